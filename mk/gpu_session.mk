# ---- a lent GPU's session, prepared here ---------------------------------------------------
# The GPU machine reaches no package registry and may lack the build's libraries and cuDNN's
# headers. `make gpu-deps` (here, with Debian's apt) puts what the build needs into
# .gpu-deps/ (ignored by git): the Debian packages of libpng, zlib, libjpeg, Check, pkgconf
# and make, with the runtime libraries their links lead to (zlib1g-dev's libz.so is a link to
# zlib1g's file), and a copy of this toolkit's cuDNN headers. Carry .gpu-deps with the device
# call and run test/gpu_session.sh there (README.md, "On a lent GPU"); `make gpu-rehearsal`
# runs that script here in a stand-in for the GPU machine (test/gpu_rehearsal.sh).
GPU_DEPS_DIR := .gpu-deps
GPU_DEBS := libpng-dev libpng16-16 zlib1g-dev zlib1g libjpeg62-turbo libjpeg62-turbo-dev \
            libjpeg-dev check libsubunit0 libsubunit-dev pkgconf pkgconf-bin libpkgconf3 make

.PHONY: gpu-deps gpu-rehearsal
gpu-deps:
	@rm -rf $(GPU_DEPS_DIR) && mkdir -p $(GPU_DEPS_DIR)/cudnn/include
	cd $(GPU_DEPS_DIR) && apt-get download $(GPU_DEBS)
	cp $(CUDNN_HOME)/include/cudnn*.h $(GPU_DEPS_DIR)/cudnn/include/
	@du -sh $(GPU_DEPS_DIR)

gpu-rehearsal: gpu-deps
	test/gpu_rehearsal.sh
