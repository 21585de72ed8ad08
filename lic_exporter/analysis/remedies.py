"""The configuration lines a finding tells the operator to type, in NX-OS and IOS-XE form.

NX-OS and IOS-XE spell call-home, VRFs and name servers differently (`callhome` / `call-home`,
`use-vrf management` / `vrf Mgmt-vrf`): a device whose platform is known is told its own form
only; where the outputs do not tell, both forms are printed, each labelled, so that nobody
types one platform's command into the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from lic_exporter.analysis.views import Platform

DDCE_URL = "https://tools.cisco.com/its/service/oddce/services/DDCEService"
SMART_RECEIVER_URL = "https://smartreceiver.cisco.com/licservice/license"


@dataclass(frozen=True)
class Commands:
    """One remedy in each platform's form."""

    nxos: str
    iosxe: str

    def on(self, platform: Platform | None) -> str:
        if platform == "nxos" or self.nxos == self.iosxe:
            return self.nxos
        if platform == "iosxe":
            return self.iosxe
        return f"on NX-OS:\n{_indent(self.nxos)}\non IOS-XE:\n{_indent(self.iosxe)}"


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


HTTPS_DESTINATION = Commands(
    nxos=f"callhome\n  destination-profile CiscoTAC-1 index 1 http {DDCE_URL}",
    iosxe=f"call-home\n  profile CiscoTAC-1\n    destination address http {DDCE_URL}")
CALLHOME_ON = Commands(nxos="callhome\n  enable", iosxe="service call-home")
CALLHOME_VRF = Commands(nxos="callhome\n  transport http use-vrf management", iosxe="call-home\n  vrf <mgmt-vrf>")
SOURCE_INTERFACE = Commands(nxos="ip http source-interface mgmt0 vrf management",
                            iosxe="ip http client source-interface <mgmt-interface>")
NAME_SERVER = Commands(nxos="ip domain-lookup\nip name-server <dns-server> use-vrf management",
                       iosxe="ip domain lookup\nip name-server vrf <mgmt-vrf> <dns-server>")
NTP = Commands(nxos="ntp server <ntp-server> use-vrf management", iosxe="ntp server vrf <mgmt-vrf> <ntp-server>")
TRUSTPOOL = Commands(
    nxos="check the clock (show clock; ntp server <ntp-server> use-vrf management), then upgrade NX-OS or import "
         "the current Cisco trustpool:\ncrypto ca trustpool import url <ios_core.p7b>",
    iosxe="check the clock (show clock; ntp server vrf <mgmt-vrf> <ntp-server>), then import the current Cisco "
          "trustpool:\ncrypto pki trustpool import clean url http://www.cisco.com/security/pki/trs/ios_core.p7b")
HTTP_SEND = Commands(nxos=f"{CALLHOME_VRF.nxos}\n{SOURCE_INTERFACE.nxos}",
                     iosxe=f"{CALLHOME_VRF.iosxe}\n{SOURCE_INTERFACE.iosxe}")
PROXY = Commands(nxos="callhome\n  transport http proxy server <proxy> port <port>\n  transport http proxy enable",
                 iosxe="call-home\n  http-proxy <proxy> port <port>")
# Smart Licensing Using Policy on IOS-XE sends with its own transport, not call-home.
PROXY_POLICY = Commands(nxos=PROXY.nxos,
                        iosxe="license smart proxy address <proxy>\nlicense smart proxy port <port>")
PATH_TO_CISCO = Commands(nxos="check the path from the management VRF to tools.cisco.com:443",
                         iosxe="check the path from the VRF call-home uses (<mgmt-vrf>) to tools.cisco.com:443")
SMART_LICENSING_DATA = Commands(
    nxos="enable smart licensing data on the active profile (CiscoTAC-1)",
    iosxe="call-home\n  profile CiscoTAC-1\n    active\n    reporting smart-licensing-data\n"
          "    destination transport-method http")
LICENSING_LOG = Commands(nxos="look at the device's licensing syslog messages:\nshow logging logfile | include LICMGR",
                         iosxe="look at the device's licensing syslog messages:\nshow logging | include SMART_LIC")
