# fedstack: the hand-made multi-cloud demo, as make targets.
#   make create-cluster      clusters and node pools of $(STACK)
#   make configure-cluster   federation and DNS (everything else)
#   make remove-federation-members
#   make destroy-cluster     everything, dependents first
STACK ?= stacks/multicloud-sim.yaml
STATE_DIR ?= state
PARALLELISM ?= 20
FEDSTACK := target/release/fedstack
RUN := $(FEDSTACK) -f $(STACK) --state-dir $(STATE_DIR)

.PHONY: build create-cluster configure-cluster remove-federation-members destroy-cluster plan test bench lint

build:
	cargo build --release -p fedstack-cli

create-cluster: build
	$(RUN) apply --auto-approve --parallelism $(PARALLELISM) --target 'cluster.*' --target 'node_pool.*'

configure-cluster: build
	$(RUN) apply --auto-approve --parallelism $(PARALLELISM)

remove-federation-members: build
	$(RUN) destroy --auto-approve --parallelism $(PARALLELISM) --target 'federation_member.*'

destroy-cluster: build
	$(RUN) destroy --auto-approve --parallelism $(PARALLELISM)

plan: build
	$(RUN) plan

test:
	cargo test --workspace

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench:
	cargo build --release -p fedstack-cli -p fedstack-bench
	target/release/fedstack-bench run --fedstack $(FEDSTACK)
	target/release/fedstack-bench-route53 --fedstack $(FEDSTACK)
