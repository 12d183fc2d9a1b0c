"""The rules a SIP is checked against, each with a stable code.

Codes never change meaning; new rules get new codes. Location says where the
problem is: a path inside the package, or ``mets.xml:<line> <element>``.

==================  ===========================================================
code                rule
==================  ===========================================================
SIP-OPEN            the path exists and is a readable ZIP file or folder
SIP-CORRUPT         every ZIP entry can be read (CRC and compression intact)
SIP-NAME            the package name matches ``[A-Za-z0-9_-]{1,64}``
SIP-FOLDER          the ZIP holds exactly one top-level folder and nothing else
SIP-FOLDER-NAME     that folder is named like the package
SIP-CONTENT         the folder holds only ``mets.xml`` and ``komponenty/``;
                    entry names are safe relative paths, none repeated
SIP-METS-MISSING    the folder holds ``mets.xml``
XML-BOM             ``mets.xml`` does not start with a byte order mark
XML-ENCODING        ``mets.xml`` is UTF-8 (declared and actual)
XML-WELLFORMED      ``mets.xml`` is well-formed XML
XSD-METS            the whole document is valid against METS 1.12 with
                    nsesss v4 and nsesss-TrP
XSD-NSESSS          each nsesss entity in ``mets:xmlData`` is valid against
                    nsesss.xsd on its own
XSD-TRP             each transaction log is valid against nsesss-TrP.xsd
METS-OBJID          ``mets:mets/@OBJID`` is present and not empty
METS-LABEL          ``@LABEL`` is one of the two texts of NSESSS annex 2
METS-SCHEMALOCATION ``@xsi:schemaLocation`` is exactly the prescribed one
METS-HDR            ``metsHdr`` exists with CREATEDATE and LASTMODDATE
METS-AGENT          exactly one ORGANIZATION and at least one INDIVIDUAL
                    agent, each ROLE=CREATOR with an ID and a non-empty name
METS-DMDSEC         exactly one dmdSec, its mdWrap MDTYPE=OTHER,
                    OTHERMDTYPE=NSESSS, MDTYPEVERSION=4.0, MIMETYPE=text/xml,
                    its xmlData holding exactly one nsesss entity
METS-AMDSEC         every entity's div has an ADMID naming a digiprovMD that
                    holds a ``tp:TransakcniLogObjektu``
FILE-ATTR           each ``mets:file`` has ID, DMDID, MIMETYPE, SIZE, CREATED,
                    CHECKSUMTYPE SHA-256 or SHA-512, a matching CHECKSUM, and
                    one FLocat LOCTYPE=URL xlink:type=simple with an href into
                    ``komponenty/``
FILE-MISSING        every referenced file exists in the package
FILE-SIZE           SIZE equals the real number of bytes
FILE-CHECKSUM       CHECKSUM equals the real hash of the bytes
FILE-UNREFERENCED   every file in ``komponenty/`` is referenced by a FLocat
REF-FILEID          every ``fptr/@FILEID`` names a ``mets:file``
REF-DMDID           every DMDID names an element of the document; a file's
                    DMDID names an ``nsesss:Komponenta``
REF-ADMID           every ADMID names an element of the document
STRUCT-DIV          every nsesss entity has a structMap div whose DMDID names it
STRUCT-FPTR         every komponenta div has exactly one fptr, and every file
                    is pointed to by one
KOMP-PORADI         a dokument's komponenty have poradi 1..n without gaps
KOMP-DRUH           komponenty with the same poradi have the same druh
KOMP-VERZE          per poradi, verze ascend in document order without repeats
ICO-CHECK           every identifier with zdroj "IČ" is an IČO with a valid
                    check digit
DATE-ORDER          DatumOtevreni is not after DatumUzavreni
EMPTY-NAZEV         no ``Nazev`` is empty
EMPTY-IDENTIFIKATOR no identifier (or its ``zdroj``) is empty
VALIDATOR-ERROR     the validator itself failed; the package is not accepted
==================  ===========================================================
"""

from __future__ import annotations

__all__ = [
    "ALL_CODES",
    "DATE_ORDER",
    "EMPTY_IDENTIFIKATOR",
    "EMPTY_NAZEV",
    "FILE_ATTR",
    "FILE_CHECKSUM",
    "FILE_MISSING",
    "FILE_SIZE",
    "FILE_UNREFERENCED",
    "ICO_CHECK",
    "KOMP_DRUH",
    "KOMP_PORADI",
    "KOMP_VERZE",
    "METS_AGENT",
    "METS_AMDSEC",
    "METS_DMDSEC",
    "METS_HDR",
    "METS_LABEL",
    "METS_OBJID",
    "METS_SCHEMALOCATION",
    "REF_ADMID",
    "REF_DMDID",
    "REF_FILEID",
    "SIP_CONTENT",
    "SIP_CORRUPT",
    "SIP_FOLDER",
    "SIP_FOLDER_NAME",
    "SIP_METS_MISSING",
    "SIP_NAME",
    "SIP_OPEN",
    "STRUCT_DIV",
    "STRUCT_FPTR",
    "VALIDATOR_ERROR",
    "XML_BOM",
    "XML_ENCODING",
    "XML_WELLFORMED",
    "XSD_METS",
    "XSD_NSESSS",
    "XSD_TRP",
]

SIP_OPEN = "SIP-OPEN"
SIP_CORRUPT = "SIP-CORRUPT"
SIP_NAME = "SIP-NAME"
SIP_FOLDER = "SIP-FOLDER"
SIP_FOLDER_NAME = "SIP-FOLDER-NAME"
SIP_CONTENT = "SIP-CONTENT"
SIP_METS_MISSING = "SIP-METS-MISSING"
XML_BOM = "XML-BOM"
XML_ENCODING = "XML-ENCODING"
XML_WELLFORMED = "XML-WELLFORMED"
XSD_METS = "XSD-METS"
XSD_NSESSS = "XSD-NSESSS"
XSD_TRP = "XSD-TRP"
METS_OBJID = "METS-OBJID"
METS_LABEL = "METS-LABEL"
METS_SCHEMALOCATION = "METS-SCHEMALOCATION"
METS_HDR = "METS-HDR"
METS_AGENT = "METS-AGENT"
METS_DMDSEC = "METS-DMDSEC"
METS_AMDSEC = "METS-AMDSEC"
FILE_ATTR = "FILE-ATTR"
FILE_MISSING = "FILE-MISSING"
FILE_SIZE = "FILE-SIZE"
FILE_CHECKSUM = "FILE-CHECKSUM"
FILE_UNREFERENCED = "FILE-UNREFERENCED"
REF_FILEID = "REF-FILEID"
REF_DMDID = "REF-DMDID"
REF_ADMID = "REF-ADMID"
STRUCT_DIV = "STRUCT-DIV"
STRUCT_FPTR = "STRUCT-FPTR"
KOMP_PORADI = "KOMP-PORADI"
KOMP_DRUH = "KOMP-DRUH"
KOMP_VERZE = "KOMP-VERZE"
ICO_CHECK = "ICO-CHECK"
DATE_ORDER = "DATE-ORDER"
EMPTY_NAZEV = "EMPTY-NAZEV"
EMPTY_IDENTIFIKATOR = "EMPTY-IDENTIFIKATOR"
VALIDATOR_ERROR = "VALIDATOR-ERROR"

ALL_CODES = frozenset(
    {
        SIP_OPEN,
        SIP_CORRUPT,
        SIP_NAME,
        SIP_FOLDER,
        SIP_FOLDER_NAME,
        SIP_CONTENT,
        SIP_METS_MISSING,
        XML_BOM,
        XML_ENCODING,
        XML_WELLFORMED,
        XSD_METS,
        XSD_NSESSS,
        XSD_TRP,
        METS_OBJID,
        METS_LABEL,
        METS_SCHEMALOCATION,
        METS_HDR,
        METS_AGENT,
        METS_DMDSEC,
        METS_AMDSEC,
        FILE_ATTR,
        FILE_MISSING,
        FILE_SIZE,
        FILE_CHECKSUM,
        FILE_UNREFERENCED,
        REF_FILEID,
        REF_DMDID,
        REF_ADMID,
        STRUCT_DIV,
        STRUCT_FPTR,
        KOMP_PORADI,
        KOMP_DRUH,
        KOMP_VERZE,
        ICO_CHECK,
        DATE_ORDER,
        EMPTY_NAZEV,
        EMPTY_IDENTIFIKATOR,
        VALIDATOR_ERROR,
    }
)
"""Every code `validate_sip` can report."""
