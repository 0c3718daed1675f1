"""The main API tests, run again with the model behind two llama-server replicas (this
folder's conftest): messages, count_tokens exactness, stop sequences, streaming, tool use and
structured outputs behave as with the in-process engine. Pytest collects the imported tests
here and resolves their fixtures from this folder."""

import pytest

from tests.api.test_messages import (  # noqa: F401
    test_assistant_prefill_is_continued_not_repeated,
    test_claude_code_roles_inside_messages_are_rendered,
    test_consecutive_same_role_turns_are_merged,
    test_count_tokens_of_the_default_template_is_exact,
    test_create_returns_a_message_in_the_contract_shape,
    test_hosted_model_alias_from_the_config_resolves,
    test_max_tokens_stops_with_max_tokens,
    test_max_tokens_zero_prewarms_without_content,
    test_newer_request_fields_are_accepted,
    test_sampling_parameters_are_honoured_on_2023_06_01,
    test_stop_sequence_spanning_tokens_is_matched_and_not_included,
    test_system_as_string_or_blocks_counts_the_same,
    test_temperature_zero_is_deterministic,
    test_usage_input_tokens_equal_count_tokens,
)
from tests.api.test_streaming import (  # noqa: F401
    answer,
    prompt_tokens,
    raw,
    sdk,
    test_a_cache_prewarm_cannot_stream,
    test_a_stop_sequence_ends_the_stream_without_its_text,
    test_a_validation_error_comes_before_the_stream_as_a_400,
    test_content_block_start_holds_an_empty_text_block,
    test_each_event_name_equals_its_json_type,
    test_each_raw_event_validates_as_the_sdks_stream_event,
    test_every_delta_is_a_text_delta_of_block_0,
    test_message_delta_counts_every_generated_token,
    test_message_start_holds_an_empty_message,
    test_message_start_usage_equals_count_tokens,
    test_raw_events_come_in_the_contract_order,
    test_sdk_events_come_in_the_contract_order,
    test_sdk_text_deltas_concatenate_to_the_final_message_text,
    test_the_raw_stream_is_200_text_event_stream,
    test_the_raw_stream_text_equals_the_non_streamed_answer,
    test_the_sdk_final_message_equals_the_non_streamed_answer,
    test_the_sdk_final_usage_keeps_the_input_tokens_of_message_start,
)
from tests.api.test_structured_outputs import (  # noqa: F401
    test_an_unsupported_schema_feature_is_a_bad_request_that_names_it,
    test_streamed_structured_output_concatenates_to_valid_json,
    test_structured_output_always_parses_and_validates,
)
from tests.api.test_tools import (  # noqa: F401
    test_a_claude_code_style_schema_is_accepted_and_its_bounds_hold,
    test_a_forced_call_always_validates_against_its_schema,
    test_a_forced_tool_call_with_structured_output_is_a_bad_request,
    test_a_tool_round_trip_through_the_sdk,
    test_any_picks_one_of_the_tools_with_a_valid_input,
    test_auto_answers_with_contract_valid_blocks,
    test_streamed_input_json_deltas_concatenate_to_the_final_input,
    test_tool_choice_none_never_calls_a_tool,
    test_under_auto_a_call_once_started_is_finished_under_the_grammar,
)

pytestmark = pytest.mark.slow
