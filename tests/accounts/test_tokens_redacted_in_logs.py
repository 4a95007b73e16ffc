"""A personal API token that reaches a log line bare (no "Bearer", no "token=") is still masked: the
tokens carry a recognisable prefix for exactly this."""
from governance.accounts.tokens import new_key
from common.security import REDACTED, redact


def test_a_bare_token_is_redacted_and_the_rest_kept():
    key = new_key()
    line = f"user pasted {key} into the job name, see ticket 42"
    cleaned = redact(line)
    assert key not in cleaned and key[4:] not in cleaned
    assert cleaned == f"user pasted {REDACTED} into the job name, see ticket 42"
    assert redact("the llt_ prefix alone is harmless") == "the llt_ prefix alone is harmless"
