# Generated from proto/xrmarl/v1/bridge.proto by grpcio-tools==1.85.1 (Python gencode 7.35.1).
# Do not edit: regenerate with `python proto/generate_python.py` (`--check` verifies it).
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProtocolVersion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTOCOL_VERSION_UNSPECIFIED: _ClassVar[ProtocolVersion]
    PROTOCOL_VERSION_CURRENT: _ClassVar[ProtocolVersion]
PROTOCOL_VERSION_UNSPECIFIED: ProtocolVersion
PROTOCOL_VERSION_CURRENT: ProtocolVersion

class ActionHead(_message.Message):
    __slots__ = ("name", "n", "values", "ordered", "labels")
    NAME_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ORDERED_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    n: int
    values: _containers.RepeatedScalarFieldContainer[float]
    ordered: bool
    labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., n: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., ordered: _Optional[bool] = ..., labels: _Optional[_Iterable[str]] = ...) -> None: ...

class ContinuousDim(_message.Message):
    __slots__ = ("name", "low", "high", "unit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    low: float
    high: float
    unit: str
    def __init__(self, name: _Optional[str] = ..., low: _Optional[float] = ..., high: _Optional[float] = ..., unit: _Optional[str] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("id", "kind", "obs_size", "n_actions", "action_values", "actions_ordered", "action_labels", "heads", "continuous")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OBS_SIZE_FIELD_NUMBER: _ClassVar[int]
    N_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ACTION_VALUES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_ORDERED_FIELD_NUMBER: _ClassVar[int]
    ACTION_LABELS_FIELD_NUMBER: _ClassVar[int]
    HEADS_FIELD_NUMBER: _ClassVar[int]
    CONTINUOUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    obs_size: int
    n_actions: int
    action_values: _containers.RepeatedScalarFieldContainer[float]
    actions_ordered: bool
    action_labels: _containers.RepeatedScalarFieldContainer[str]
    heads: _containers.RepeatedCompositeFieldContainer[ActionHead]
    continuous: _containers.RepeatedCompositeFieldContainer[ContinuousDim]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., obs_size: _Optional[int] = ..., n_actions: _Optional[int] = ..., action_values: _Optional[_Iterable[float]] = ..., actions_ordered: _Optional[bool] = ..., action_labels: _Optional[_Iterable[str]] = ..., heads: _Optional[_Iterable[_Union[ActionHead, _Mapping]]] = ..., continuous: _Optional[_Iterable[_Union[ContinuousDim, _Mapping]]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("protocol_version", "scenario", "seed", "run", "agents", "state_size", "reward_components", "kpi_names", "step_interval_s", "episode_limit", "parameters", "global_kpi_names")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    STATE_SIZE_FIELD_NUMBER: _ClassVar[int]
    REWARD_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    KPI_NAMES_FIELD_NUMBER: _ClassVar[int]
    STEP_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    EPISODE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_KPI_NAMES_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    scenario: str
    seed: int
    run: int
    agents: _containers.RepeatedCompositeFieldContainer[AgentInfo]
    state_size: int
    reward_components: _containers.RepeatedScalarFieldContainer[str]
    kpi_names: _containers.RepeatedScalarFieldContainer[str]
    step_interval_s: float
    episode_limit: int
    parameters: _containers.ScalarMap[str, str]
    global_kpi_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, protocol_version: _Optional[int] = ..., scenario: _Optional[str] = ..., seed: _Optional[int] = ..., run: _Optional[int] = ..., agents: _Optional[_Iterable[_Union[AgentInfo, _Mapping]]] = ..., state_size: _Optional[int] = ..., reward_components: _Optional[_Iterable[str]] = ..., kpi_names: _Optional[_Iterable[str]] = ..., step_interval_s: _Optional[float] = ..., episode_limit: _Optional[int] = ..., parameters: _Optional[_Mapping[str, str]] = ..., global_kpi_names: _Optional[_Iterable[str]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("session_id", "protocol_version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    protocol_version: int
    def __init__(self, session_id: _Optional[str] = ..., protocol_version: _Optional[int] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("session_id", "step_index", "sim_time_s", "obs", "state", "avail_actions", "rewards", "kpis", "terminated", "truncated", "truncation_reason", "global_kpis", "agent_rewards")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    OBS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AVAIL_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    KPIS_FIELD_NUMBER: _ClassVar[int]
    TERMINATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_KPIS_FIELD_NUMBER: _ClassVar[int]
    AGENT_REWARDS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    step_index: int
    sim_time_s: float
    obs: _containers.RepeatedScalarFieldContainer[float]
    state: _containers.RepeatedScalarFieldContainer[float]
    avail_actions: _containers.RepeatedScalarFieldContainer[bool]
    rewards: _containers.RepeatedScalarFieldContainer[float]
    kpis: _containers.RepeatedScalarFieldContainer[float]
    terminated: bool
    truncated: bool
    truncation_reason: str
    global_kpis: _containers.RepeatedScalarFieldContainer[float]
    agent_rewards: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, session_id: _Optional[str] = ..., step_index: _Optional[int] = ..., sim_time_s: _Optional[float] = ..., obs: _Optional[_Iterable[float]] = ..., state: _Optional[_Iterable[float]] = ..., avail_actions: _Optional[_Iterable[bool]] = ..., rewards: _Optional[_Iterable[float]] = ..., kpis: _Optional[_Iterable[float]] = ..., terminated: _Optional[bool] = ..., truncated: _Optional[bool] = ..., truncation_reason: _Optional[str] = ..., global_kpis: _Optional[_Iterable[float]] = ..., agent_rewards: _Optional[_Iterable[float]] = ...) -> None: ...

class Action(_message.Message):
    __slots__ = ("session_id", "step_index", "actions", "continuous")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    CONTINUOUS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    step_index: int
    actions: _containers.RepeatedScalarFieldContainer[int]
    continuous: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, session_id: _Optional[str] = ..., step_index: _Optional[int] = ..., actions: _Optional[_Iterable[int]] = ..., continuous: _Optional[_Iterable[float]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "fatal")
    class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CODE_UNSPECIFIED: _ClassVar[Error.Code]
        CODE_BAD_MESSAGE: _ClassVar[Error.Code]
        CODE_UNEXPECTED: _ClassVar[Error.Code]
        CODE_VERSION: _ClassVar[Error.Code]
        CODE_SHAPE: _ClassVar[Error.Code]
        CODE_ACTION: _ClassVar[Error.Code]
        CODE_UNKNOWN_SESSION: _ClassVar[Error.Code]
        CODE_TIMEOUT: _ClassVar[Error.Code]
        CODE_INTERNAL: _ClassVar[Error.Code]
    CODE_UNSPECIFIED: Error.Code
    CODE_BAD_MESSAGE: Error.Code
    CODE_UNEXPECTED: Error.Code
    CODE_VERSION: Error.Code
    CODE_SHAPE: Error.Code
    CODE_ACTION: Error.Code
    CODE_UNKNOWN_SESSION: Error.Code
    CODE_TIMEOUT: Error.Code
    CODE_INTERNAL: Error.Code
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FATAL_FIELD_NUMBER: _ClassVar[int]
    code: Error.Code
    message: str
    fatal: bool
    def __init__(self, code: _Optional[_Union[Error.Code, str]] = ..., message: _Optional[str] = ..., fatal: _Optional[bool] = ...) -> None: ...

class Close(_message.Message):
    __slots__ = ("session_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Goodbye(_message.Message):
    __slots__ = ("session_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("hello", "welcome", "step", "action", "error", "close", "goodbye")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    GOODBYE_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    welcome: Welcome
    step: Step
    action: Action
    error: Error
    close: Close
    goodbye: Goodbye
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., welcome: _Optional[_Union[Welcome, _Mapping]] = ..., step: _Optional[_Union[Step, _Mapping]] = ..., action: _Optional[_Union[Action, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., close: _Optional[_Union[Close, _Mapping]] = ..., goodbye: _Optional[_Union[Goodbye, _Mapping]] = ...) -> None: ...
