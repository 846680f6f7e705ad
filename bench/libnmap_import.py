"""The Python peer of the import benchmark: python-libnmap parses the same nmap XML file and
Python's sqlite3 stores the same rows (hosts, ports, services) in one transaction with
executemany. Prints `peer_s=<seconds>` (best of 3)."""

import os
import sqlite3
import sys
import time

from libnmap.parser import NmapParser

SCHEMA = """
CREATE TABLE scans (id INTEGER PRIMARY KEY, title TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE scan_ips (id INTEGER PRIMARY KEY, scan_id INTEGER NOT NULL REFERENCES scans(id),
  address TEXT NOT NULL, hostname TEXT, status TEXT NOT NULL);
CREATE TABLE scan_ports (id INTEGER PRIMARY KEY, scan_id INTEGER NOT NULL, ip_id INTEGER NOT NULL
  REFERENCES scan_ips(id), port INTEGER NOT NULL, protocol TEXT NOT NULL, state TEXT NOT NULL,
  reason TEXT);
CREATE TABLE scan_services (id INTEGER PRIMARY KEY, scan_id INTEGER NOT NULL, port_id INTEGER
  NOT NULL REFERENCES scan_ports(id), name TEXT, product TEXT, version TEXT, extra_info TEXT,
  cpe TEXT);
CREATE INDEX ip_scan ON scan_ips(scan_id);
CREATE INDEX port_ip ON scan_ports(ip_id);
CREATE INDEX service_port ON scan_services(port_id);
"""


def run(xml_path, db_path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(db_path + suffix)
        except FileNotFoundError:
            pass
    started = time.perf_counter()
    report = NmapParser.parse_fromfile(xml_path)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    with db:
        db.execute("INSERT INTO scans (id, title, status) VALUES (1, 'peer', 'COMPLETED')")
        ips, ports, services = [], [], []
        for host in report.hosts:
            ip_id = len(ips) + 1
            ips.append((ip_id, 1, host.address, (host.hostnames or [None])[0], host.status))
            for svc in host.services:
                port_id = len(ports) + 1
                ports.append((port_id, 1, ip_id, svc.port, svc.protocol, svc.state, svc.reason))
                cpes = svc.cpelist
                services.append((port_id, 1, port_id, svc.service,
                                 svc.service_dict.get("product"), svc.service_dict.get("version"),
                                 svc.service_dict.get("extrainfo"),
                                 cpes[0].cpestring if cpes else None))
        db.executemany("INSERT INTO scan_ips VALUES (?,?,?,?,?)", ips)
        db.executemany("INSERT INTO scan_ports VALUES (?,?,?,?,?,?,?)", ports)
        db.executemany("INSERT INTO scan_services VALUES (?,?,?,?,?,?,?,?)", services)
    db.close()
    return time.perf_counter() - started, len(ports)


if __name__ == "__main__":
    xml, out = sys.argv[1], sys.argv[2]
    best, count = min(run(xml, os.path.join(out, "peer.db")) for _ in range(3))
    print(f"peer_ports={count}")
    print(f"peer_s={best:.4f}")
