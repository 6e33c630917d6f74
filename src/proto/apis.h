/* apis.h -- the single table of Kafka APIs this broker serves.
 *
 *   X(name, key, min_version, max_version, first_flexible_version)
 *
 * ApiVersions responses are generated from this table, so a version is advertised exactly when a
 * decoder and a handler for it exist. Versions were chosen from what librdkafka 2.0.2, kafka-python
 * 2.0.2 and kafkajs 2.2.4 send (docs/protocol.md lists the reasoning). */
#ifndef SL_APIS_H
#define SL_APIS_H

#define SL_APIS(X)                                                                                 \
    X(Produce, 0, 3, 9, 9)                                                                         \
    X(Fetch, 1, 4, 12, 12)                                                                         \
    X(ListOffsets, 2, 0, 7, 6)                                                                     \
    X(Metadata, 3, 0, 12, 9)                                                                       \
    X(OffsetForLeaderEpoch, 23, 0, 4, 4)                                                           \
    X(ApiVersions, 18, 0, 3, 3)                                                                    \
    X(CreateTopics, 19, 0, 7, 5)                                                                   \
    X(DeleteTopics, 20, 0, 6, 4)                                                                   \
    X(DescribeConfigs, 32, 0, 4, 4)                                                                \
    X(AlterConfigs, 33, 0, 2, 2)                                                                   \
    X(CreatePartitions, 37, 0, 3, 2)                                                               \
    X(FindCoordinator, 10, 0, 2, 3)                                                                \
    X(JoinGroup, 11, 0, 5, 6)                                                                      \
    X(SyncGroup, 14, 0, 3, 4)                                                                      \
    X(Heartbeat, 12, 0, 3, 4)                                                                      \
    X(LeaveGroup, 13, 0, 3, 4)                                                                     \
    X(OffsetCommit, 8, 0, 9, 8)                                                                    \
    X(OffsetFetch, 9, 0, 9, 6)                                                                     \
    X(ListGroups, 16, 0, 5, 3)                                                                     \
    X(DescribeGroups, 15, 0, 4, 5)                                                                 \
    X(DeleteGroups, 42, 0, 1, 2)                                                                   \
    X(OffsetDelete, 47, 0, 0, 99)                                                                  \
    X(InitProducerId, 22, 0, 4, 2)                                                                 \
    X(AddPartitionsToTxn, 24, 0, 3, 3)                                                             \
    X(AddOffsetsToTxn, 25, 0, 3, 3)                                                                \
    X(EndTxn, 26, 0, 3, 3)                                                                         \
    X(TxnOffsetCommit, 28, 0, 3, 3)                                                                \
    X(DescribeProducers, 61, 0, 0, 0)                                                              \
    X(DescribeTransactions, 65, 0, 0, 0)                                                           \
    X(ListTransactions, 66, 0, 1, 0)                                                               \
    X(DeleteRecords, 21, 0, 2, 2)                                                                  \
    X(DescribeLogDirs, 35, 0, 4, 2)                                                                \
    X(IncrementalAlterConfigs, 44, 0, 1, 1)                                                        \
    X(DescribeClientQuotas, 48, 0, 1, 1)                                                           \
    X(AlterClientQuotas, 49, 0, 1, 1)                                                              \
    X(ConsumerGroupHeartbeat, 68, 0, 1, 0)                                                         \
    X(ConsumerGroupDescribe, 69, 0, 0, 0)                                                          \
    X(DescribeCluster, 60, 0, 0, 0)                                                                \
    X(ElectLeaders, 43, 0, 2, 2)                                                                   \
    X(AlterPartitionReassignments, 45, 0, 0, 0)                                                    \
    X(ListPartitionReassignments, 46, 0, 0, 0)                                                     \
    X(DescribeQuorum, 55, 0, 1, 0)                                                                 \
    X(SaslHandshake, 17, 0, 1, 99)                                                                 \
    X(SaslAuthenticate, 36, 0, 2, 2)                                                               \
    X(DescribeUserScramCredentials, 50, 0, 0, 0)                                                   \
    X(AlterUserScramCredentials, 51, 0, 0, 0)                                                      \
    X(DescribeAcls, 29, 0, 3, 2)                                                                   \
    X(CreateAcls, 30, 0, 3, 2)                                                                     \
    X(DeleteAcls, 31, 0, 3, 2)

enum {
#define SL_API_ENUM(name, key, min, max, flex) SL_API_##name = key,
    SL_APIS(SL_API_ENUM)
#undef SL_API_ENUM
};

#endif
