"""Writes a MaxMind-format ASN database (GeoLite2-ASN layout: autonomous_system_number,
autonomous_system_organization) from ip-location-db's ASN CSV files (RouteViews, the five RIRs and
DB-IP, CC BY 4.0), which npm carries as `@ip-location-db/asn`. The registry does not carry the
project's own ASN `.mmdb`; this builds the same thing from the same data.

Usage: asn_csv_to_mmdb.py OUT.mmdb IPV4.csv [IPV6.csv]
Rows: ip_range_start, ip_range_end, autonomous_system_number, autonomous_system_organization.
"""

import csv
import sys

from mmdb_writer import MMDBWriter, MmdbU32
from netaddr import IPRange, IPSet


def main() -> None:
    out, inputs = sys.argv[1], sys.argv[2:]
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="ip-location-db-ASN",
        description="ip-location-db asn (RouteViews, NRO, DB-IP; CC BY 4.0)",
    )
    rows = 0
    for path in inputs:
        with open(path, newline="", encoding="utf-8") as f:
            for start, end, asn, *org in csv.reader(f):
                record = {"autonomous_system_number": MmdbU32(int(asn))}
                if org and org[0]:
                    record["autonomous_system_organization"] = org[0]
                writer.insert_network(IPSet(IPRange(start, end)), record)
                rows += 1
    writer.to_db_file(out)
    print(f"{out}: {rows} ranges", file=sys.stderr)


if __name__ == "__main__":
    main()
