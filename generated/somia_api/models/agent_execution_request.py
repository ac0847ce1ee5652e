from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.agent_execution_request_metadata import AgentExecutionRequestMetadata


T = TypeVar("T", bound="AgentExecutionRequest")


@_attrs_define
class AgentExecutionRequest:
    """One turn of an agent. Optional fields are omitted rather than sent as null.

    Attributes:
        input_data (Any | Unset): The turn's input: any JSON value (most agents take a string). The create call may
            ignore it when the agent's Begin step has no required query fields.
        stream (bool | Unset): `true` asks for a Server-Sent Event stream instead of one JSON answer. Default: False.
        pipeline_version (int | str | Unset): Which version of the agent's pipeline runs, by number or by name. Default:
            'production'.
        trace_enabled (bool | Unset): Record a trace of the run. Default: False.
        test (bool | Unset): Mark the run as a test run. Default: False.
        source (str | Unset): Where the call comes from, for reporting.
        tags (list[str] | Unset): Labels for reporting.
        environment (str | Unset): The caller's environment name, for reporting.
        end_user_id (str | Unset): The caller's id for the person the agent talks to.
        metadata (AgentExecutionRequestMetadata | Unset): Free-form data stored with the run.
        caller_pipeline_id (int | Unset): Call attribution, when one agent calls another: the id of the calling
            pipeline,
            so that the run this turn starts is linked back to it. Resolved within the
            caller's organisation; the server drops it silently when it cannot resolve it.
        caller_agent_slug (str | Unset): Call attribution, when one agent calls another; the calling agent's slug.
        caller_run_id (str | Unset): Call attribution, when one agent calls another; the id of the calling run.
        caller_span_id (str | Unset): Call attribution, when one agent calls another; the id of the calling run's span
            that makes this call.
    """

    input_data: Any | Unset = UNSET
    stream: bool | Unset = False
    pipeline_version: int | str | Unset = "production"
    trace_enabled: bool | Unset = False
    test: bool | Unset = False
    source: str | Unset = UNSET
    tags: list[str] | Unset = UNSET
    environment: str | Unset = UNSET
    end_user_id: str | Unset = UNSET
    metadata: AgentExecutionRequestMetadata | Unset = UNSET
    caller_pipeline_id: int | Unset = UNSET
    caller_agent_slug: str | Unset = UNSET
    caller_run_id: str | Unset = UNSET
    caller_span_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        input_data = self.input_data

        stream = self.stream

        pipeline_version: int | str | Unset
        if isinstance(self.pipeline_version, Unset):
            pipeline_version = UNSET
        else:
            pipeline_version = self.pipeline_version

        trace_enabled = self.trace_enabled

        test = self.test

        source = self.source

        tags: list[str] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags

        environment = self.environment

        end_user_id = self.end_user_id

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        caller_pipeline_id = self.caller_pipeline_id

        caller_agent_slug = self.caller_agent_slug

        caller_run_id = self.caller_run_id

        caller_span_id = self.caller_span_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if input_data is not UNSET:
            field_dict["input_data"] = input_data
        if stream is not UNSET:
            field_dict["stream"] = stream
        if pipeline_version is not UNSET:
            field_dict["pipeline_version"] = pipeline_version
        if trace_enabled is not UNSET:
            field_dict["trace_enabled"] = trace_enabled
        if test is not UNSET:
            field_dict["test"] = test
        if source is not UNSET:
            field_dict["source"] = source
        if tags is not UNSET:
            field_dict["tags"] = tags
        if environment is not UNSET:
            field_dict["environment"] = environment
        if end_user_id is not UNSET:
            field_dict["end_user_id"] = end_user_id
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if caller_pipeline_id is not UNSET:
            field_dict["caller_pipeline_id"] = caller_pipeline_id
        if caller_agent_slug is not UNSET:
            field_dict["caller_agent_slug"] = caller_agent_slug
        if caller_run_id is not UNSET:
            field_dict["caller_run_id"] = caller_run_id
        if caller_span_id is not UNSET:
            field_dict["caller_span_id"] = caller_span_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.agent_execution_request_metadata import AgentExecutionRequestMetadata  # noqa: PLC0415

        d = dict(src_dict)
        input_data = d.pop("input_data", UNSET)

        stream = d.pop("stream", UNSET)

        def _parse_pipeline_version(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        pipeline_version = _parse_pipeline_version(d.pop("pipeline_version", UNSET))

        trace_enabled = d.pop("trace_enabled", UNSET)

        test = d.pop("test", UNSET)

        source = d.pop("source", UNSET)

        tags = cast(list[str], d.pop("tags", UNSET))

        environment = d.pop("environment", UNSET)

        end_user_id = d.pop("end_user_id", UNSET)

        _metadata = d.pop("metadata", UNSET)
        metadata: AgentExecutionRequestMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = AgentExecutionRequestMetadata.from_dict(_metadata)

        caller_pipeline_id = d.pop("caller_pipeline_id", UNSET)

        caller_agent_slug = d.pop("caller_agent_slug", UNSET)

        caller_run_id = d.pop("caller_run_id", UNSET)

        caller_span_id = d.pop("caller_span_id", UNSET)

        agent_execution_request = cls(
            input_data=input_data,
            stream=stream,
            pipeline_version=pipeline_version,
            trace_enabled=trace_enabled,
            test=test,
            source=source,
            tags=tags,
            environment=environment,
            end_user_id=end_user_id,
            metadata=metadata,
            caller_pipeline_id=caller_pipeline_id,
            caller_agent_slug=caller_agent_slug,
            caller_run_id=caller_run_id,
            caller_span_id=caller_span_id,
        )

        agent_execution_request.additional_properties = d
        return agent_execution_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
