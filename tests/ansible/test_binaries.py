"""The module's static binaries: x86_64 natively and aarch64 under
qemu-aarch64-static give byte-identical results on the same args file.

Each run happens in a fresh network namespace, so the sockets the module sees
(none) are the same for both. Run after scripts/build-collection.
"""

import json
import os
import struct
import subprocess
import tempfile
import unittest

from hosts import PORTPLAN, REPO, sh

BINARIES = {
    "x86_64": [PORTPLAN],
    "aarch64": ["qemu-aarch64-static",
                os.path.join(REPO, "target", "aarch64-unknown-linux-musl", "release", "portplan")],
}
PT_INTERP = 3


def program_header_types(path):
    """The p_type of every program header of a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path}: not ELF64 LE"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]


class Binaries(unittest.TestCase):
    def run_both(self, args):
        """Each architecture's (exit code, stdout) on one args file."""
        netns = f"pp-bin-{os.getpid()}"
        sh("ip", "netns", "add", netns)
        try:
            with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                json.dump(args, f)
                f.flush()
                out = {}
                for arch, argv in BINARIES.items():
                    done = subprocess.run(["ip", "netns", "exec", netns, *argv, f.name],
                                          capture_output=True, text=True)
                    out[arch] = (done.returncode, done.stdout)
                return out
        finally:
            sh("ip", "netns", "delete", netns)

    def test_static(self):
        for arch, argv in BINARIES.items():
            self.assertNotIn(PT_INTERP, program_header_types(argv[-1]), f"{arch} is not static")

    def test_same_result_on_both_architectures(self):
        with open(os.path.join(REPO, "examples", "plans", "ocp-cluster.json")) as f:
            plan = json.load(f)
        out = self.run_both({"plan": plan, "host": "obs1", "state": "checked",
                             "firewall": "none", "_ansible_check_mode": False})
        self.assertEqual(out["x86_64"], out["aarch64"])
        code, stdout = out["x86_64"]
        result = json.loads(stdout)
        self.assertEqual(code, 0, result)
        self.assertFalse(result["failed"])
        self.assertEqual(result["ports"][0]["spec"], "observer.sql")

    def test_no_log_leaves_the_options_out(self):
        with open(os.path.join(REPO, "examples", "plans", "ocp-cluster.json")) as f:
            plan = json.load(f)
        args = {"plan": plan, "host": "obs1", "state": "checked", "firewall": "none"}
        shown = json.loads(self.run_both(dict(args, _ansible_no_log=False))["x86_64"][1])
        hidden = json.loads(self.run_both(dict(args, _ansible_no_log=True))["x86_64"][1])
        self.assertEqual(shown["invocation"]["module_args"]["host"], "obs1")
        self.assertNotIn("invocation", hidden)

    def test_same_failure_on_both_architectures(self):
        out = self.run_both({"plan": {"name": "p"}, "host": "obs1", "colour": "red"})
        self.assertEqual(out["x86_64"], out["aarch64"])
        code, stdout = out["x86_64"]
        result = json.loads(stdout)
        self.assertEqual(code, 1)
        self.assertTrue(result["failed"])
        self.assertIn("colour: unsupported parameter", result["msg"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
