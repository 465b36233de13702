# CMake toolchain file for scripts/prebuild.sh and scripts/arm64-emulation.sh: Debian's aarch64-linux-gnu cross
# compiler (package g++-aarch64-linux-gnu), whose target libraries live in /usr/aarch64-linux-gnu
# (libc6-dev-arm64-cross). In the bullseye root of scripts/cross/bullseye-root.sh: GCC 10, glibc 2.31.
# Use: cmake-js rebuild --CDCMAKE_TOOLCHAIN_FILE=<this file>   or   cmake -DCMAKE_TOOLCHAIN_FILE=<this file>
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Target headers/libraries only from the cross sysroot (plus extra roots, e.g. an unpacked JetPack CUDA, through
# CMAKE_FIND_ROOT_PATH on the command line); programs (node, cmake helpers) from the build machine.
list(APPEND CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Running a target program at configure time (try_run) goes through qemu when it is installed.
find_program(QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
