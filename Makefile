.PHONY: test demo bed-up bed-down bed-status bench build venv lint
# The two commands of the README:
demo:        ## full end-to-end deployment on the local simulated GPU cluster
	hack/demo.sh
test:        ## ruff, ansible-lint, ansible-test sanity, pytest, Molecule on the local cluster
	hack/test.sh

venv:
	hack/venv.sh
bed-up:
	hack/testbed.sh up
bed-down:
	hack/testbed.sh down
bed-status:
	hack/testbed.sh status
bench:       ## benchmarks: numbers and ratios against the obvious baseline
	hack/bench.sh
build:       ## the collection tarball
	hack/venv.sh && .venv/bin/ansible-galaxy collection build --force --output-path .build/dist .
lint:
	hack/venv.sh && .venv/bin/ruff check . && PATH=$(CURDIR)/.venv/bin:$$PATH .venv/bin/ansible-lint --offline
