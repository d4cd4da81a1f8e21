"""The collection as an operator meets it: `ansible-doc` without warnings, and
honest metadata in the built tarball.

`ansible-doc -l` used to print a "documentation formatting error" warning per
binary: the listing read each ELF binary in plugins/modules/ as a Python file
for its docs. The binaries now live in binaries/ behind symlinks in
plugins/modules/, which the listing skips (the loader's aliases) and the
module loader follows; test_binaries and the playbook tests run them.

Runs with the ansible-core of .venv, or of .venv-ansible-$PORTPLAN_ANSIBLE.
Needs the tarball of scripts/build-collection; no root, no test hosts.
"""

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

from hosts import REPO, controller_env


def tarball():
    path = os.path.join(REPO, "dist", "collection", "portplan-ports-0.1.0.tar.gz")
    if not os.path.exists(path):
        raise RuntimeError("no collection tarball in dist/collection: run scripts/build-collection")
    return path


class AnsibleDoc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-doc-")
        cls.env = controller_env(cls.work)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def doc(self, *argv):
        done = subprocess.run(["ansible-doc", *argv], env=dict(self.env, ANSIBLE_PAGER="cat", PAGER="cat"),
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return done

    def assert_no_warning(self, done):
        # ansible-doc prints its warnings on stderr; nothing else belongs there.
        self.assertEqual(done.stderr.strip(), "", done.stderr)
        self.assertNotIn("[WARNING]", done.stdout)
        self.assertNotIn("formatting error", done.stdout + done.stderr)

    def test_list_has_the_module_and_no_warning(self):
        done = self.doc("-l", "portplan.ports")
        self.assert_no_warning(done)
        names = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
        self.assertIn("portplan.ports.portplan", names, done.stdout)
        # The binaries are internal: listed, they drew the warning.
        self.assertFalse([name for name in names if "portplan_linux" in name], done.stdout)
        self.assertIn("Check and open the ports", done.stdout)

    def test_module_doc_without_warning(self):
        done = self.doc("portplan.ports.portplan")
        self.assert_no_warning(done)
        for text in ("hosts_from_inventory", "hosts_group", "plan_yaml", "any_errors_fatal"):
            self.assertIn(text, done.stdout, f"{text} is not in the module's doc")
        self.assertNotIn("example.invalid", done.stdout, "a placeholder URL is in the module's doc")

    def test_first_example_checks_every_host_before_opening(self):
        done = self.doc("--json", "portplan.ports.portplan")
        self.assert_no_warning(done)
        examples = json.loads(done.stdout)["portplan.ports.portplan"]["examples"]
        first = examples[: examples.index("\n- name:", examples.index("- name:") + 1)]
        self.assertIn("any_errors_fatal: true", first)
        # Two tasks: the check (state: checked) comes before the opening.
        self.assertLess(first.index("state: checked"), first.index("state: present"), first)

    def test_binaries_keep_their_docs_and_stay_runnable(self):
        done = self.doc("portplan.ports.portplan_linux_x86_64")
        self.assert_no_warning(done)
        self.assertIn("Internal", done.stdout)
        installed = os.path.join(self.work, "collections", "ansible_collections", "portplan", "ports")
        for arch in ("x86_64", "aarch64"):
            link = os.path.join(installed, "plugins", "modules", f"portplan_linux_{arch}")
            self.assertTrue(os.path.islink(link), link)
            target = os.path.realpath(link)
            self.assertEqual(target, os.path.join(os.path.realpath(installed), "binaries", f"portplan_linux_{arch}"))
            with open(target, "rb") as f:
                self.assertEqual(f.read(4), b"\x7fELF")


class AuthorIgnore(unittest.TestCase):
    """ansible-test's doc schema takes an author only as `Name (@github)` or
    `Name (!UNKNOWN)`; portplan has no GitHub handle and no unknown author, so
    the ignore files skip validate-modules:invalid-documentation for the
    module's docs. That code also covers every other schema error of the
    docs, so this runs validate-modules without those ignore lines and
    requires the author to be the only invalid-documentation error left."""

    def test_the_only_ignored_doc_error_is_the_author(self):
        stage = os.path.join(REPO, "target", "collection", "ansible_collections", "portplan", "ports")
        if not os.path.isdir(stage):
            raise RuntimeError("no staged collection: run scripts/build-collection")
        work = tempfile.mkdtemp(prefix="portplan-sanity-")
        try:
            copy = os.path.join(work, "ansible_collections", "portplan", "ports")
            shutil.copytree(stage, copy, symlinks=True, ignore=shutil.ignore_patterns(".git", "output"))
            ignores = os.path.join(copy, "tests", "sanity")
            for name in os.listdir(ignores):
                path = os.path.join(ignores, name)
                with open(path) as f:
                    kept = [line for line in f if "invalid-documentation" not in line]
                with open(path, "w") as f:
                    f.writelines(kept)
            done = subprocess.run([os.path.join(REPO, "scripts", "sanity-collection"), "--test", "validate-modules"],
                                  env=dict(os.environ, PORTPLAN_STAGE=copy), capture_output=True, text=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        output = done.stdout + done.stderr
        errors = [line for line in output.splitlines()
                  if ": invalid-documentation: " in line and "/portplan" in line]
        self.assertEqual(sorted(line.split()[1].split(":")[0] for line in errors),
                         ["plugins/modules/portplan.py", "plugins/modules/portplan_linux_aarch64.yml",
                          "plugins/modules/portplan_linux_x86_64.yml"], output[-3000:])
        for line in errors:
            self.assertIn("DOCUMENTATION.author: Invalid author", line)
            self.assertIn("Got ['portplan developers']", line)


class Metadata(unittest.TestCase):
    """What galaxy and `ansible-galaxy collection list` show comes from MANIFEST.json."""

    @classmethod
    def setUpClass(cls):
        with tarfile.open(tarball()) as tar:
            cls.manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
            cls.license = tar.extractfile("LICENSE").read().decode()
            cls.readme = tar.extractfile("README.md").read().decode()
            cls.docs = tar.extractfile("plugins/modules/portplan.py").read().decode()
            cls.binary_docs = tar.extractfile("plugins/modules/portplan_linux_x86_64.yml").read().decode()

    def test_description_names_every_firewall(self):
        for text in (self.manifest["description"], self.readme):
            for firewall in ("firewalld", "ufw", "nftables", "iptables"):
                self.assertIn(firewall, text)
        self.assertNotIn("refused for now", self.readme)

    def test_no_placeholder_url(self):
        for key in ("repository", "documentation", "homepage", "issues"):
            self.assertNotIn("example.invalid", self.manifest.get(key) or "", key)
        for label, text in (("README.md", self.readme), ("portplan.py", self.docs),
                            ("portplan_linux_x86_64.yml", self.binary_docs)):
            self.assertNotIn("example.invalid", text, f"a placeholder URL is in {label}")
        self.assertEqual(self.manifest["authors"], ["portplan developers"])
        self.assertIn("## Where it lives", self.readme)

    def test_license_is_apache_2_and_the_repository_s(self):
        self.assertEqual(self.manifest["license"], ["Apache-2.0"])
        self.assertIn("Apache License\n                        Version 2.0, January 2004", self.license)
        with open(os.path.join(REPO, "LICENSE")) as f:
            self.assertEqual(self.license, f.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
