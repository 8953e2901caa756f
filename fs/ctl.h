/*
 * ctl.h — shlogctl sync: the control socket DATADIR/.ctl (ctl.c).
 */
#ifndef SHLOGFS_CTL_H
#define SHLOGFS_CTL_H

#include "shlogfs.h"

/** After the store is open: make DATADIR/.ctl and start the thread that answers it. */
void shlogfs_ctl_start(struct shlogfs *fs);
/** Stop that thread and remove DATADIR/.ctl (before the store is closed). */
void shlogfs_ctl_stop(void);

#endif /* SHLOGFS_CTL_H */
