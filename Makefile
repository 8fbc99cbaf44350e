# fedstack: the hand-made multi-cloud demo, as make targets.
#   make create-cluster      clusters and node pools of $(STACK)
#   make configure-cluster   federation and DNS (everything else)
#   make deploy-guestbook    the workloads of $(STACK) (the guestbook), after what they need
#   make undeploy-guestbook  the workloads only (every object they made, nothing else)
#   make remove-federation-members
#   make destroy-cluster     everything, dependents first
#   make test                peers (installed when missing), one build, every test
#   make bench               speed figures (see crates/bench)
#   make dist                the optimized release binary (LTO), target/dist/fedstack
#
# Every target builds in one profile (PROFILE, default release: optimized, no LTO --
# see Cargo.toml) with one feature set, so create-cluster, test and bench share one
# build of the dependencies and of `fedstack` itself.
STACK ?= stacks/multicloud-sim.yaml
STATE_DIR ?= state
PARALLELISM ?= 20
PROFILE ?= release
FEDSTACK := target/$(PROFILE)/fedstack
RUN := $(FEDSTACK) -f $(STACK) --state-dir $(STATE_DIR)

.PHONY: build create-cluster configure-cluster deploy-guestbook undeploy-guestbook remove-federation-members destroy-cluster plan test peers bench lint dist

build:
	cargo build --profile $(PROFILE) -p fedstack-cli

create-cluster: build
	$(RUN) apply --auto-approve --parallelism $(PARALLELISM) --target 'cluster.*' --target 'node_pool.*'

configure-cluster: build
	$(RUN) apply --auto-approve --parallelism $(PARALLELISM)

deploy-guestbook: build
	$(RUN) apply --auto-approve --parallelism $(PARALLELISM) --target 'workload.*'

undeploy-guestbook: build
	$(RUN) destroy --auto-approve --parallelism $(PARALLELISM) --target 'workload.*'

remove-federation-members: build
	$(RUN) destroy --auto-approve --parallelism $(PARALLELISM) --target 'federation_member.*'

destroy-cluster: build
	$(RUN) destroy --auto-approve --parallelism $(PARALLELISM)

plan: build
	$(RUN) plan

test:
	PROFILE=$(PROFILE) scripts/test-suite $(ARGS)

peers:
	scripts/test-peers

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: peers
	cargo build --profile $(PROFILE) --workspace --bins
	target/$(PROFILE)/fedstack-bench run --fedstack $(FEDSTACK)
	FEDSTACK_MOTO_SERVER=$(CURDIR)/.venv-moto/bin/moto_server target/$(PROFILE)/fedstack-bench-route53 --fedstack $(FEDSTACK)
	FEDSTACK_MOTO_SERVER=$(CURDIR)/.venv-moto/bin/moto_server target/$(PROFILE)/fedstack-bench-s3-state --fedstack $(FEDSTACK)
	scripts/registry-testenv skopeo >/dev/null
	FEDSTACK_REGISTRY_BIN=$$(scripts/registry-testenv path)/registry target/$(PROFILE)/fedstack-bench-registry

dist:
	cargo build --profile dist -p fedstack-cli
