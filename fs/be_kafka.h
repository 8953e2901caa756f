/*
 * be_kafka.h — the Kafka backend (be_kafka.c; docs/KAFKA.md): the tree
 * of fs/backend.h over a Kafka cluster, through fs/kclient.c (producer,
 * writers, readers) and fs/kpart.c (each partition's byte index, key
 * table and reads).  Built only when meson finds librdkafka
 * (SHLOGFS_HAVE_KAFKA).
 *
 * main.c gathers the backend's -o options into a configuration before
 * the fork, then opens the backend in the daemon's child.
 */
#ifndef SHLOGFS_BE_KAFKA_H
#define SHLOGFS_BE_KAFKA_H

#include <stddef.h>

#include "backend.h"

/** The Kafka backend's table. */
extern const struct shlogfs_backend shlogfs_backend_kafka;

struct shlogfs_kafka_conf;   /* options gathered before the fork */

/** A new configuration with the defaults. -ENOMEM */
int shlogfs_kafka_conf_new(struct shlogfs_kafka_conf **out);
void shlogfs_kafka_conf_free(struct shlogfs_kafka_conf *c);

/*
 * One -o option if it is the Kafka backend's: brokers=, kafka.NAME=VALUE,
 * replication=N (mkdir's replication factor), kafka_config=FILE (lines
 * NAME=VALUE, # comments; for values holding a comma): 0 taken, -ENOENT
 * not ours, -EINVAL refused with @err filled (one line for the terminal).
 */
int shlogfs_kafka_conf_opt(struct shlogfs_kafka_conf *c, const char *opt, char *err, size_t errlen);

/*
 * Open the backend: CACHEDIR (made 0700 if absent; its own lock so two
 * daemons cannot share it), connect, fetch metadata within a bound
 * (brokers down at mount: -EHOSTUNREACH or -ETIMEDOUT, @err says which
 * brokers), start the indexer.  Called in the daemon's child after the
 * fork.  @o gives max_message, stride, flush_ms, max_buffer etc.  @c
 * stays the caller's: free it after.
 */
int shlogfs_kafka_open(const char *cachedir, struct shlogfs_kafka_conf *c, const struct shlog_options *o,
		       shlogfs_bstore **out, char *err, size_t errlen);

#endif /* SHLOGFS_BE_KAFKA_H */
