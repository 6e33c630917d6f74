/* aclops.h -- Kafka's ACL operation codes and the authorized-operations bit sets the broker
 * reports (Metadata include_*_authorized_operations, DescribeGroups, DescribeCluster).
 *
 * There is no authorizer yet, so every operation a resource type supports is allowed: Kafka
 * answers the same without an authorizer. A bit set holds 1 << code for each allowed operation. */
#ifndef SL_ACLOPS_H
#define SL_ACLOPS_H

enum {
    SL_ACL_ANY = 1, /* in filters only */
    SL_ACL_ALL = 2, /* in a binding: every operation */
    SL_ACL_READ = 3,
    SL_ACL_WRITE = 4,
    SL_ACL_CREATE = 5,
    SL_ACL_DELETE = 6,
    SL_ACL_ALTER = 7,
    SL_ACL_DESCRIBE = 8,
    SL_ACL_CLUSTER_ACTION = 9,
    SL_ACL_DESCRIBE_CONFIGS = 10,
    SL_ACL_ALTER_CONFIGS = 11,
    SL_ACL_IDEMPOTENT_WRITE = 12,
};

/* A topic: read, write, create, delete, alter, describe, describe and alter configs (8). */
#define SL_TOPIC_OPS_ALL                                                                           \
    ((1 << SL_ACL_READ) | (1 << SL_ACL_WRITE) | (1 << SL_ACL_CREATE) | (1 << SL_ACL_DELETE) |      \
     (1 << SL_ACL_ALTER) | (1 << SL_ACL_DESCRIBE) | (1 << SL_ACL_DESCRIBE_CONFIGS) |               \
     (1 << SL_ACL_ALTER_CONFIGS))
/* The cluster: create, cluster action, describe and alter configs, idempotent write, alter,
 * describe (7). */
#define SL_CLUSTER_OPS_ALL                                                                         \
    ((1 << SL_ACL_CREATE) | (1 << SL_ACL_CLUSTER_ACTION) | (1 << SL_ACL_DESCRIBE_CONFIGS) |        \
     (1 << SL_ACL_ALTER_CONFIGS) | (1 << SL_ACL_IDEMPOTENT_WRITE) | (1 << SL_ACL_ALTER) |          \
     (1 << SL_ACL_DESCRIBE))
/* A consumer group: read, describe, delete (3). */
#define SL_GROUP_OPS_ALL ((1 << SL_ACL_READ) | (1 << SL_ACL_DESCRIBE) | (1 << SL_ACL_DELETE))

#endif
