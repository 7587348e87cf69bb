"""Derives a compose file that puts every service on the host's network (the private dockerd of
.ci/image-check has no bridge): no published ports or networks, each service on its own loopback port.

    python3 host-network.py COMPOSE_FILE OUT_FILE APP_PORT DB_PORT PROMETHEUS_CONFIG_OUT

The app listens on 127.0.0.1:APP_PORT (PORT in .env, its host port under compose), the database on
127.0.0.1:DB_PORT and Prometheus on 127.0.0.1:${PROMETHEUS_PORT}; DATABASE_URL and Prometheus's target (written
to PROMETHEUS_CONFIG_OUT, mounted instead of monitoring/prometheus.yml) are rewritten to match. Everything else
(images, environment, volumes, health checks, hardening, profiles, depends_on) is kept as it is.
"""
import sys

import yaml

compose_file, out_file, app_port, db_port, prometheus_config_out = sys.argv[1:6]
doc = yaml.safe_load(open(compose_file))
services = doc["services"]
for service in services.values():
    service["network_mode"] = "host"
    service.pop("ports", None)  # compose refuses published ports on the host network
    service.pop("networks", None)

db, app, prometheus = services["db"], services["app"], services["prometheus"]
db["environment"]["PGPORT"] = db_port
db["command"] = ["postgres", "-c", "listen_addresses=127.0.0.1"]

env = app["environment"]
if "@db:5432/" not in env["DATABASE_URL"]:
    sys.exit("host-network.py: the app's DATABASE_URL no longer points at db:5432")
env["DATABASE_URL"] = env["DATABASE_URL"].replace("@db:5432/", f"@127.0.0.1:{db_port}/")
env["HOST"] = "127.0.0.1"
env["PORT"] = app_port

config = open("monitoring/prometheus.yml").read()
if '"app:3000"' not in config:
    sys.exit('host-network.py: monitoring/prometheus.yml no longer scrapes "app:3000"')
open(prometheus_config_out, "w").write(config.replace('"app:3000"', f'"127.0.0.1:{app_port}"'))
prometheus["volumes"] = [
    v.replace("./monitoring/prometheus.yml:", f"./{prometheus_config_out}:") for v in prometheus["volumes"]
]
prometheus["command"] = [
    "--config.file=/etc/prometheus/prometheus.yml",
    "--storage.tsdb.path=/prometheus",
    "--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}",
]
yaml.safe_dump(doc, open(out_file, "w"), sort_keys=False, width=1000)
