"""A classic `show license status` of my own, written on the model of the NX-OS 9.3 layout
(tests/fixtures/show/communication_failed.txt), with its times relative to a given instant, for
tests that need a device in a chosen state at a chosen distance from its deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta


def classic_status(now: datetime, *, prompt: str | None = None, header: str = "", authorization: str = "AUTHORIZED",
                   authorized_days: float = -5, failure_reason: str | None = None, deadline_days: float = 85,
                   virtual_account: str = "DC1-Fabric", closing_prompt: bool = False) -> str:
    """Registered sixty days before `now`, good for most of a year; authorization `authorization`
    since `authorized_days` (negative: in the past). With `failure_reason`, the last
    communication attempt failed an hour ago for it; otherwise it succeeded when authorized.
    `prompt`: the session's prompt line before it (and after it with `closing_prompt`)."""

    def at(days: float = 0, hours: float = 0) -> str:
        return (now + timedelta(days=days, hours=hours)).strftime("%b %d %H:%M:%S %Y UTC")

    if failure_reason is None:
        communication = (f"  Last Communication Attempt: SUCCEEDED on {at(authorized_days)}\n"
                         f"  Next Communication Attempt: {at(authorized_days + 30)}\n")
    else:
        communication = (f"  Last Communication Attempt: FAILED on {at(hours=-1)}\n"
                         f"    Failure reason: {failure_reason}\n"
                         f"  Next Communication Attempt: {at(hours=23)}\n")
    opening = f"{prompt}# show license status\n" if prompt else ""
    closing = f"\n{prompt}#\n" if prompt and closing_prompt else ""
    return f"""{opening}{header}
Smart Licensing is ENABLED

Registration:
  Status: REGISTERED
  Smart Account: Example Networks Inc
  Virtual Account: {virtual_account}
  Export-Controlled Functionality: Allowed
  Initial Registration: SUCCEEDED on {at(-60)}
  Last Renewal Attempt: None
  Next Renewal Attempt: {at(120)}
  Registration Expires: {at(305)}

License Authorization:
  Status: {authorization} on {at(authorized_days)}
{communication}  Communication Deadline: {at(deadline_days)}

Smart License Conversion:
  Automatic Conversion Enabled: False
  Status: Not started
{closing}"""
