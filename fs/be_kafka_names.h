/*
 * be_kafka_names.h — every name the Kafka backend gives a file in its
 * cache dir (docs/KAFKA.md, "The cache dir"; docs/FORMAT.md, "Kafka byte
 * index").  Each is opened relative to the cache dir's fd with
 * O_NOFOLLOW and a type check (shlog_file_open); temporaries O_EXCL.
 */
#ifndef SHLOGFS_BE_KAFKA_NAMES_H
#define SHLOGFS_BE_KAFKA_NAMES_H

/** The lock a daemon holds (flock) while it serves the cache dir. */
#define KNAME_LOCK       "lock"
/** Modes and owners of the root, topics and partitions (be_kafka.c). */
#define KNAME_MODES      "modes"
/** Its temporary while rewritten (O_EXCL, renamed over KNAME_MODES). */
#define KNAME_MODES_TMP  "modes.tmp"
/** A partition's byte index: printf format of (hash of the topic, partition). */
#define KNAME_INDEX_FMT  "idx-%016llx-%u.kidx"
/** Added to a damaged index's name when it is set aside (one kept per partition). */
#define KNAME_ASIDE_SUFFIX ".damaged"

#endif /* SHLOGFS_BE_KAFKA_NAMES_H */
