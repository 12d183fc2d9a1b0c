"""Building the NSESSS SIP (the archive package) of a closed spis.

`write_sip` streams the components into a deterministic ZIP; `build_mets`
produces its ``mets.xml`` after `resolve` (hub.sip.metadata) has cleaned the
text, checked the rules and filled or reported what the registry lacks; the
dataclasses in `hub.sip.model` describe the input. Every error is a
`SipBuildError`.
"""

from __future__ import annotations

from hub.sip.errors import (
    ComponentMismatchError,
    InvalidSpisError,
    MissingMetadataError,
    SipBuildError,
)
from hub.sip.metadata import MissingMetadata, Placeholder, resolve
from hub.sip.mets import build_mets
from hub.sip.model import Dokument, Komponenta, Obec, Spis, SpisovyPlan, Subjekt, Udalost
from hub.sip.naming import component_file_name, sip_name
from hub.sip.package import BuiltSip, write_sip

__all__ = [
    "BuiltSip",
    "ComponentMismatchError",
    "Dokument",
    "InvalidSpisError",
    "Komponenta",
    "MissingMetadata",
    "MissingMetadataError",
    "Obec",
    "Placeholder",
    "SipBuildError",
    "Spis",
    "SpisovyPlan",
    "Subjekt",
    "Udalost",
    "build_mets",
    "component_file_name",
    "resolve",
    "sip_name",
    "write_sip",
]
