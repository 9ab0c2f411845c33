"""Headers of broker administration: topics (UPDATE_AND_CREATE_TOPIC 17, DELETE_TOPIC_IN_BROKER 215,
GET_TOPIC_STATS_INFO 202), subscription groups (DELETE_SUBSCRIPTIONGROUP 207), producers
(GET_PRODUCER_CONNECTION_LIST 204), broker config and stats (GET_BROKER_CONFIG 26,
VIEW_BROKER_STATS_DATA 315, GET_BROKER_CONSUME_STATS 317), half messages (RESUME_CHECK_HALF_MESSAGE
323) and ACL (50, 51, 52, 53).

Java: the classes of the same names in protocol.header. Name-server administration headers live in
namesrv.py.
"""

from __future__ import annotations

from pocketmq.protocol.headers.base import WireHeader, java, wire_header

__all__ = [
    "CreateTopicRequestHeader",
    "DeleteTopicRequestHeader",
    "GetTopicStatsInfoRequestHeader",
    "DeleteSubscriptionGroupRequestHeader",
    "GetProducerConnectionListRequestHeader",
    "GetBrokerConfigResponseHeader",
    "ViewBrokerStatsDataRequestHeader",
    "GetConsumeStatsInBrokerHeader",
    "ResumeCheckHalfMessageRequestHeader",
    "CreateAccessConfigRequestHeader",
    "DeleteAccessConfigRequestHeader",
    "GetBrokerAclConfigResponseHeader",
    "UpdateGlobalWhiteAddrsConfigRequestHeader",
]


@wire_header
class CreateTopicRequestHeader(WireHeader):
    topic: str = java("topic")
    default_topic: str = java("defaultTopic")
    read_queue_count: int = java("readQueueNums")
    write_queue_count: int = java("writeQueueNums")
    #: pocketmq.common.topic perm bits (PERM_READ 4 | PERM_WRITE 2 | PERM_INHERIT 1).
    perm: int = java("perm")
    #: "SINGLE_TAG" or "MULTI_TAG".
    topic_filter_type: str = java("topicFilterType")
    topic_sys_flag: int | None = java("topicSysFlag", default=None)
    order: bool = java("order", default=False)


@wire_header
class DeleteTopicRequestHeader(WireHeader):
    topic: str = java("topic")


@wire_header
class GetTopicStatsInfoRequestHeader(WireHeader):
    topic: str = java("topic")


@wire_header
class DeleteSubscriptionGroupRequestHeader(WireHeader):
    group_name: str = java("groupName")
    #: Also drop the group's committed offsets (added in 4.9.x; older admins leave it out).
    remove_offset: bool = java("removeOffset", default=False)


@wire_header
class GetProducerConnectionListRequestHeader(WireHeader):
    producer_group: str = java("producerGroup")


@wire_header
class GetBrokerConfigResponseHeader(WireHeader):
    #: The broker's config DataVersion as JSON.
    version: str = java("version")


@wire_header
class ViewBrokerStatsDataRequestHeader(WireHeader):
    stats_name: str = java("statsName")
    stats_key: str = java("statsKey")


@wire_header
class GetConsumeStatsInBrokerHeader(WireHeader):
    order: bool = java("isOrder")


@wire_header
class ResumeCheckHalfMessageRequestHeader(WireHeader):
    msg_id: str | None = java("msgId", default=None)


@wire_header
class CreateAccessConfigRequestHeader(WireHeader):
    access_key: str = java("accessKey")
    secret_key: str | None = java("secretKey", default=None)
    white_remote_address: str | None = java("whiteRemoteAddress", default=None)
    admin: bool = java("admin", default=False)
    default_topic_perm: str | None = java("defaultTopicPerm", default=None)
    default_group_perm: str | None = java("defaultGroupPerm", default=None)
    #: Comma-separated "topic=PERM" entries.
    topic_perms: str | None = java("topicPerms", default=None)
    group_perms: str | None = java("groupPerms", default=None)


@wire_header
class DeleteAccessConfigRequestHeader(WireHeader):
    access_key: str = java("accessKey")


@wire_header
class GetBrokerAclConfigResponseHeader(WireHeader):
    version: str = java("version")
    all_acl_file_version: str | None = java("allAclFileVersion", default=None)
    broker_name: str = java("brokerName")
    broker_addr: str = java("brokerAddr")
    cluster_name: str = java("clusterName")


@wire_header
class UpdateGlobalWhiteAddrsConfigRequestHeader(WireHeader):
    #: Comma-separated addresses or patterns.
    global_white_addrs: str = java("globalWhiteAddrs")
    acl_file_full_path: str | None = java("aclFileFullPath", default=None)
