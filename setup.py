"""Build of fastconv's compiled extension.

Our C kernels (src_c/*.c) are compiled here as C99 with warnings on, separately from the
Cython-generated binding, and linked into one extension ``fastconv._ext``. The files in
src_c/isa/ are compiled three times, once per SIMD path (portable, AVX2+FMA, AVX-512), each
with its own flags and symbol suffix; the path is chosen at run time, so the wheel runs on any
x86-64 and ``-march=native`` is never used. OpenMP is used when the compiler can link it.
"""
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent.resolve()
SRC_C = "src_c"

IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
ISA_FLAGS = {
    "scalar": (0, []),
    "avx2": (1, ["-mavx2", "-mfma", "-mf16c"]),
    "avx512": (2, ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma", "-mf16c"]),
}
# -fno-wrapv undoes the -fwrapv in Python's own CFLAGS, which distutils puts first: with signed
# overflow defined, GCC vectorised the Winograd filter transform worse (58% more of its time:
# VGG conv5_1 at batch 1, 6.3 -> 5.7 ms). Nothing here relies on wrapping (sizes are checked
# before they are multiplied, and CI's UBSan job would flag an overflow).
C_FLAGS = ["-std=c99", "-O3", "-fno-wrapv", "-Wall", "-Wextra", "-fno-math-errno", "-fno-trapping-math"]
if os.environ.get("FASTCONV_SANITIZE"):
    # second build for CI's sanitizer job: FASTCONV_SANITIZE=address,undefined
    C_FLAGS += [f"-fsanitize={os.environ['FASTCONV_SANITIZE']}", "-fno-omit-frame-pointer", "-g", "-O1"]


def _compiler_accepts(compiler, flags, code, link_flags=()):
    """Compile and link a tiny program with the given flags; True if it works."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(code)
        try:
            objs = compiler.compile([str(src)], output_dir=tmp, extra_postargs=list(flags))
            compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=list(link_flags))
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def build_extension(self, ext):
        cc = self.compiler
        openmp = os.environ.get("FASTCONV_NO_OPENMP") is None and _compiler_accepts(
            cc, ["-fopenmp"], "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n", ["-fopenmp"])
        macros = [("FC_HAVE_OPENMP", "1")] if openmp else []
        omp_flags = ["-fopenmp"] if openmp else []
        include = [str(HERE / SRC_C)]
        build_temp = Path(self.build_temp)
        sources = sorted(str(p.relative_to(HERE)) for p in (HERE / SRC_C).glob("*.c"))
        isa_sources = sorted(str(p.relative_to(HERE)) for p in (HERE / SRC_C / "isa").glob("*.c"))
        objects = cc.compile(sources, output_dir=str(build_temp / "common"), macros=macros,
                             include_dirs=include, extra_postargs=C_FLAGS + omp_flags)
        isa_list = ISA_FLAGS if IS_X86 else {"scalar": ISA_FLAGS["scalar"]}
        if not IS_X86:
            macros = macros + [("FC_ONLY_SCALAR", "1")]
        for name, (level, flags) in isa_list.items():
            objects += cc.compile(isa_sources, output_dir=str(build_temp / name),
                                  macros=macros + [("FC_ISA_LEVEL", str(level))],
                                  include_dirs=include, extra_postargs=C_FLAGS + omp_flags + flags)
        ext.extra_objects = objects + list(ext.extra_objects or [])
        ext.extra_link_args = list(ext.extra_link_args or []) + omp_flags + (
            [f"-fsanitize={os.environ['FASTCONV_SANITIZE']}"] if os.environ.get("FASTCONV_SANITIZE") else [])
        ext.define_macros = list(ext.define_macros or []) + macros
        super().build_extension(ext)


extensions = [
    Extension(
        "fastconv._ext",
        sources=["fastconv/_ext.pyx"],
        include_dirs=[numpy.get_include(), SRC_C],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
        extra_compile_args=["-O2"],
        depends=[str(p) for p in sorted((HERE / SRC_C).rglob("*.[ch]"))],
    )
]

setup(
    ext_modules=cythonize(extensions, language_level=3,
                          compiler_directives={"boundscheck": False, "wraparound": False,
                                               "initializedcheck": False, "cdivision": True}),
    cmdclass={"build_ext": BuildExt},
)
