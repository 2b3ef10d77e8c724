# The Triton Inference Server backend (examples/triton/backend/): `make triton` builds
# build/libtriton_yolact.so, and beside it the backend folder tritonserver's
# --backend-directory expects (build/triton/backends/yolact/). The backend links the static
# library, so the server needs no libyolact.so; Triton's own functions stay undefined and are
# resolved from the server process when it loads the backend. `make triton-serve PORT=N`
# runs a server on loopback with the example model repository (examples/triton/).

TRITON_SRCS := $(sort $(wildcard examples/triton/backend/*.c))
TRITON_OBJS := $(TRITON_SRCS:%.c=$(BUILD)/obj/%.o)
TRITON_BACKEND := $(BUILD)/libtriton_yolact.so
TRITON_BACKEND_DIR := $(BUILD)/triton/backends

.PHONY: triton triton-serve triton-test triton-bench triton-gpu-deps
triton: config $(TRITON_BACKEND)

# -z defs is left out on purpose: TRITONSERVER_* and TRITONBACKEND_* come from the server.
$(TRITON_BACKEND): $(TRITON_OBJS) $(STATIC)
	$(CC) -shared -Wl,--exclude-libs,ALL -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)
	@mkdir -p $(TRITON_BACKEND_DIR)/yolact
	ln -sf ../../../libtriton_yolact.so $(TRITON_BACKEND_DIR)/yolact/libtriton_yolact.so

# The server comes from PyPI (nvidia-pytriton ships tritonserver, Triton 2.51) into a virtual
# environment of its own, made once (Pillow: the tests and the load test read PNGs).
TRITON_VENV ?= $(BUILD)/triton/venv
TRITON_PIP_PACKAGES := nvidia-pytriton==0.5.14 tritonclient[http,grpc]==2.51.0 pillow==11.0.0
PORT ?= 8000

$(TRITON_VENV)/.installed:
	python3 -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install --quiet $(TRITON_PIP_PACKAGES)
	touch $@

# Loopback only: HTTP on PORT, gRPC on PORT+1, metrics on PORT+2.
triton-serve: triton $(TRITON_VENV)/.installed
	exec $$(ls $(TRITON_VENV)/lib/python3*/site-packages/pytriton/tritonserver/bin/tritonserver) \
	    --model-repository=$(abspath examples/triton/model_repository) \
	    --backend-directory=$(abspath $(TRITON_BACKEND_DIR)) \
	    --http-address=127.0.0.1 --http-port=$(PORT) \
	    --grpc-address=127.0.0.1 --grpc-port=$$(($(PORT) + 1)) \
	    --metrics-address=127.0.0.1 --metrics-port=$$(($(PORT) + 2))

# The backend against a real server (test/triton/test_triton.py; .ci/run's Triton stage).
triton-test: all triton $(TRITON_VENV)/.installed
	$(TRITON_VENV)/bin/python test/triton/test_triton.py --build $(BUILD)

# The load test (bench/triton_load.py): 1, 2, 4, 8 clients x 30 s, results and plot in
# bench/results/triton-load.*; matplotlib only for the plot, added to the venv here.
triton-bench: triton $(TRITON_VENV)/.installed
	$(TRITON_VENV)/bin/pip install --quiet matplotlib==3.9.2
	$(TRITON_VENV)/bin/python bench/triton_load.py --build $(BUILD)

# For test/gpu_session.sh's Triton stage: the lent GPU machine reaches no registry, so the
# server (tritonserver and the libraries the wheel bundles, less the Python backend's
# libpython) is carried in .gpu-deps as one xz archive, after make gpu-deps's packages.
triton-gpu-deps: gpu-deps $(TRITON_VENV)/.installed
	cd $(TRITON_VENV)/lib/python3*/site-packages && \
	    tar cf - --exclude='libpython3*' pytriton/tritonserver/bin nvidia_pytriton.libs | \
	    xz -T2 -6 > $(abspath $(GPU_DEPS_DIR))/triton-server.tar.xz
	@du -sh $(GPU_DEPS_DIR) $(GPU_DEPS_DIR)/triton-server.tar.xz
