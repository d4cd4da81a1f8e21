"""Plans from the inventory, and plan files as the module reads them, under
real ansible-playbook.

The OCP cluster of examples/plans/ocp-cluster.json runs as five test hosts
(network namespaces, nftables with foreign rules) at the plan's addresses.
The same cluster described by examples/inventory/ocp.ini (groups
portplan_<component>) with the hostless plan examples/inventory/ocp-plan.yaml
must give every host exactly the result the explicit plan gives, byte for
byte, and open exactly the same rules. Bad inventory values fail the task
naming the host, the variable and the value, and change nothing.

Run as root after scripts/build-collection:
`.venv/bin/python -m unittest tests/ansible/test_inventory.py -v`.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from hosts import PLAYBOOKS, REPO, Lan, Listener, controller_env, reachable
from test_playbooks import NFT_FOREIGN

INVENTORY = os.path.join(REPO, "examples", "inventory", "ocp.ini")
HOSTLESS_PLAN = os.path.join(REPO, "examples", "inventory", "ocp-plan.yaml")
EXPLICIT_PLAN = os.path.join(REPO, "examples", "plans", "ocp-cluster.json")

# The plan's hosts in its order, which is also the inventory's.
ADDRESSES = {"ocp1": "198.18.2.10", "obs1": "198.18.2.11", "obs2": "198.18.2.12",
             "obs3": "198.18.2.13", "proxy1": "198.18.2.20"}

ONE_TASK = """- hosts: {hosts}
  gather_facts: false
  tasks:
    - portplan.ports.portplan:
        plan_file: {plan_file}
        hosts_from_inventory: {from_inventory}
        state: {state}
        firewall: nftables
        persist: false
"""


def explicit_plan():
    with open(EXPLICIT_PLAN) as f:
        return json.load(f)


class Cluster(unittest.TestCase):
    """Five test hosts at the plan's addresses, and a stranger."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="portplan-inventory-")
        cls.env = controller_env(cls.work)
        cls.lan = Lan("inv")
        cls.hosts = {name: cls.lan.host(name, address) for name, address in ADDRESSES.items()}
        cls.stranger = cls.lan.host("stranger", "198.18.99.9")
        for host in cls.hosts.values():
            host.run("nft", "-f", "-", stdin=NFT_FOREIGN)

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def connection_inventory(self, group="ocp"):
        """How to reach each test host; no portplan_* group, so it adds no component."""
        lines = [f"[{group}]"]
        for name, host in self.hosts.items():
            lines.append(f"{name} ansible_connection=local ansible_shell_executable={host.shell}")
        path = os.path.join(self.work, f"connection-{group}.ini")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def write(self, name, text):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def play(self, playbook, inventories, *extra, expect_rc=0):
        """ansible-playbook; its output and the last portplan result of each host that ran one."""
        results_dir = self.env["PORTPLAN_RESULTS_DIR"]
        shutil.rmtree(results_dir, ignore_errors=True)
        argv = ["ansible-playbook"]
        for inventory in inventories:
            argv += ["-i", inventory]
        argv += [playbook, *extra]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True)
        output = done.stdout + done.stderr
        self.assertEqual(done.returncode, expect_rc, output[-4000:])
        results = {}
        for name in os.listdir(results_dir) if os.path.isdir(results_dir) else ():
            with open(os.path.join(results_dir, name)) as f:
                results[name] = json.load(f)
        return output, results

    def rulesets(self):
        return {name: host.run("nft", "list", "ruleset") for name, host in self.hosts.items()}


class FromInventory(Cluster):
    """One ordered scenario: methods run in name order and share the hosts."""

    def explicit(self, *extra, **kw):
        return self.play(os.path.join(PLAYBOOKS, "ocp-preinstall.yml"), [self.connection_inventory()],
                         *extra, **kw)

    def from_inventory(self, *extra, **kw):
        return self.play(os.path.join(PLAYBOOKS, "ocp-preinstall-inventory.yml"),
                         [INVENTORY, self.connection_inventory("reach")], *extra, **kw)

    def test_10_same_results_byte_for_byte_as_the_explicit_plan(self):
        before = self.rulesets()
        _, explicit = self.explicit("--check", "--diff")
        _, derived = self.from_inventory("--check", "--diff")
        self.assertEqual(sorted(explicit), sorted(ADDRESSES))
        self.assertEqual(sorted(derived), sorted(ADDRESSES))
        for name in ADDRESSES:
            self.assertEqual(explicit[name]["_outcome"], "ok", explicit[name])
            self.assertTrue(explicit[name]["actions"], explicit[name])
            # The options differ (plan vs plan_yaml + plan_hosts); everything
            # the module found and would do must not.
            a, b = (json.dumps({k: v for k, v in r.items() if k != "invocation"}, sort_keys=True)
                    for r in (explicit[name], derived[name]))
            self.assertEqual(a, b, name)
        self.assertEqual(self.rulesets(), before)

    def test_20_opening_from_the_inventory_is_what_the_explicit_plan_opens(self):
        _, derived = self.from_inventory()
        for name in ADDRESSES:
            self.assertTrue(derived[name]["changed"], derived[name])
        # The explicit plan finds nothing left to do on any host.
        _, explicit = self.explicit()
        for name in ADDRESSES:
            self.assertEqual(explicit[name]["_outcome"], "ok", explicit[name])
            self.assertFalse(explicit[name]["changed"], explicit[name])
            self.assertEqual(explicit[name]["actions"], [], name)
        obs1 = self.hosts["obs1"]
        with Listener(obs1, "0.0.0.0:2881"):
            self.assertTrue(reachable(self.hosts["ocp1"], obs1, 2881))
            self.assertFalse(reachable(self.stranger, obs1, 2881))

    def test_30_limit_never_shrinks_the_plan(self):
        # A run limited to one host still plans every inventory host: its
        # rules keep every source, so nothing changes.
        _, derived = self.from_inventory("--limit", "obs2")
        self.assertEqual(sorted(derived), ["obs2"])
        self.assertFalse(derived["obs2"]["changed"], derived["obs2"])
        self.assertIn("5 hosts", derived["obs2"]["invocation"]["module_args"]["plan_hosts"])

    def test_40_components_from_a_var_equal_those_from_groups(self):
        # The same cluster with portplan_components host vars instead of groups.
        lines = ["[ocp]"]
        components = {"ocp1": ["ocp-server"], "proxy1": ["obproxy", "ocp-agent"]}
        for name, address in ADDRESSES.items():
            listed = components.get(name, ["observer", "ocp-agent", "backup-agent"])
            lines.append(f"{name} ansible_host={address} portplan_components='{json.dumps(listed)}'")
        inventory = self.write("vars.ini", "\n".join(lines) + "\n")
        _, explicit = self.explicit("--check")
        _, derived = self.play(os.path.join(PLAYBOOKS, "ocp-preinstall-inventory.yml"),
                               [inventory, self.connection_inventory("reach")], "--check")
        for name in ADDRESSES:
            a, b = (json.dumps({k: v for k, v in r.items() if k != "invocation"}, sort_keys=True)
                    for r in (explicit[name], derived[name]))
            self.assertEqual(a, b, name)


class BadInventory(Cluster):
    """Each bad value fails every host before anything changes, naming host, var and value."""

    def must_fail(self, inventory_text, expected, plan_file=HOSTLESS_PLAN, from_inventory="true"):
        inventory = self.write("bad.ini", inventory_text)
        playbook = self.write("bad.yml", ONE_TASK.format(hosts="obs1", plan_file=plan_file,
                                                         from_inventory=from_inventory, state="present"))
        before = self.rulesets()
        _, results = self.play(playbook, [inventory, self.connection_inventory("reach")], expect_rc=2)
        result = results["obs1"]
        self.assertEqual(result["_outcome"], "failed", result)
        for text in expected:
            self.assertIn(text, result["msg"])
        self.assertEqual(self.rulesets(), before)
        return result

    GOOD = """[portplan_observer]
obs1 ansible_host=198.18.2.11
obs2 ansible_host=198.18.2.12
"""

    def test_address_that_is_a_name(self):
        self.must_fail(self.GOOD.replace("ansible_host=198.18.2.12", "ansible_host=db2.example.com"),
                  ["host obs2", "ansible_host", "db2.example.com", "portplan_address"])

    def test_bad_portplan_address(self):
        self.must_fail(self.GOOD.replace("obs2 ansible_host=198.18.2.12",
                                    "obs2 ansible_host=db2.example.com portplan_address=198.18.2.300"),
                  ["host obs2", "portplan_address", "198.18.2.300"])

    def test_components_not_a_list(self):
        self.must_fail(self.GOOD + "[reach:vars]\nportplan_components=observer\n",
                  ["host obs1", "portplan_components", "must be a list", "'observer'"])

    def test_unknown_component_names_the_inventory_host(self):
        self.must_fail(self.GOOD + "[portplan_obsrver]\nobs2\n",
                  ["plan.hosts[1].components", "obsrver", "inventory host obs2", "portplan_<component> groups"])

    def test_bad_override_names_the_var(self):
        self.must_fail(self.GOOD.replace("obs2 ansible_host=198.18.2.12",
                                    "obs2 ansible_host=198.18.2.12 "
                                    "portplan_overrides='[{\"spec\": \"observer.sql\", \"ports\": 70000}]'"),
                  ["plan.hosts[1].overrides[0].ports", "70000", "inventory host obs2", "portplan_overrides"])

    def test_plan_that_lists_hosts_too(self):
        self.must_fail(self.GOOD, ["plan.hosts", "hosts_from_inventory", EXPLICIT_PLAN], plan_file=EXPLICIT_PLAN)

    def test_target_without_a_component(self):
        self.must_fail(self.GOOD.replace("obs1 ansible_host=198.18.2.11\n", "") + "[other]\nobs1\n",
                  ["host obs1 is not among the plan hosts", "obs2"])

    def test_plan_hosts_given_beside_hosts_from_inventory(self):
        playbook = self.write("both.yml", ONE_TASK.format(
            hosts="obs1", plan_file=HOSTLESS_PLAN, from_inventory="true", state="checked").replace(
            "hosts_from_inventory: true", "hosts_from_inventory: true\n        plan_hosts: []"))
        inventory = self.write("good.ini", self.GOOD)
        _, results = self.play(playbook, [inventory, self.connection_inventory("reach")], expect_rc=2)
        self.assertIn("plan_hosts and hosts_from_inventory are mutually exclusive", results["obs1"]["msg"])

    def test_hosts_group_that_does_not_exist(self):
        playbook = self.write("group.yml", ONE_TASK.format(
            hosts="obs1", plan_file=HOSTLESS_PLAN, from_inventory="true", state="checked").replace(
            "hosts_from_inventory: true", "hosts_from_inventory: true\n        hosts_group: nope"))
        inventory = self.write("good.ini", self.GOOD)
        _, results = self.play(playbook, [inventory, self.connection_inventory("reach")], expect_rc=2)
        self.assertIn("hosts_group: no inventory group 'nope'", results["obs1"]["msg"])


class PlanFiles(Cluster):
    """Plan files reach the binary as text: YAML 1.2, and no plan echoed per host."""

    def run_one(self, plan_text, name, expect_rc=0, state="checked"):
        plan_file = self.write(name, plan_text)
        playbook = self.write("one.yml", ONE_TASK.format(hosts="obs1", plan_file=plan_file,
                                                         from_inventory="false", state=state))
        _, results = self.play(playbook, [self.connection_inventory()], expect_rc=expect_rc)
        return results["obs1"]

    YAML = """name: no          # YAML 1.1 (PyYAML) reads false
profiles: [ocp]
hosts:
  - name: ocp1
    address: 198.18.2.10
    components: [ocp-server]
  - name: obs1
    address: 198.18.2.11
    components: [observer, ocp-agent]
networks:
  - name: application
    cidrs: [198.18.50.0/24]
    description: off  # YAML 1.1 reads false
"""

    def test_yaml_is_read_as_yaml_1_2(self):
        result = self.run_one(self.YAML, "plan.yaml")
        self.assertEqual(result["_outcome"], "ok", result)
        self.assertIn("plan no,", result["invocation"]["module_args"]["plan_yaml"])
        # A flow-style YAML file is still YAML (PyYAML would agree; JSON would not).
        flow = ("{name: flow, profiles: [ocp], hosts: [{name: ocp1, address: 198.18.2.10, components: [ocp-server]},"
                " {name: obs1, address: 198.18.2.11, components: [observer, ocp-agent]}]}\n")
        self.assertEqual(self.run_one(flow, "flow.yml")["_outcome"], "ok")

    def test_yaml_duplicate_key_fails_naming_its_lines(self):
        result = self.run_one(self.YAML.replace("profiles: [ocp]\n", "profiles: [ocp]\nname: again\n"),
                              "dup.yaml", expect_rc=2)
        self.assertEqual(result["_outcome"], "failed", result)
        self.assertIn("duplicate", result["msg"])
        self.assertIn("line 3", result["msg"])
        self.assertIn("dup.yaml", result["msg"])

    def test_json_problem_names_path_value_and_file(self):
        plan = explicit_plan()
        plan["hosts"][1]["address"] = "198.18.2.300"
        result = self.run_one(json.dumps(plan), "bad.json", expect_rc=2)
        self.assertIn("plan.hosts[1].address", result["msg"])
        self.assertIn("198.18.2.300", result["msg"])
        self.assertIn("bad.json", result["msg"])

    def test_invocation_does_not_echo_the_plan(self):
        # A 400-host plan: before, every host's result carried all of it
        # under invocation.module_args.plan.
        plan = explicit_plan()
        plan["hosts"] = plan["hosts"][:2] + [
            {"name": f"obs-{i}", "address": f"198.18.{10 + i // 200}.{1 + i % 200}",
             "components": ["observer", "ocp-agent", "backup-agent"]} for i in range(398)]
        text = json.dumps(plan)
        result = self.run_one(text, "large.json")
        self.assertEqual(result["_outcome"], "ok", result)
        echoed = len(json.dumps(result["invocation"]))
        before = len(json.dumps({"module_args": dict(result["invocation"]["module_args"], plan=plan)}))
        print(f"\ninvocation bytes per host, 400-host plan: before {before}, now {echoed}")
        self.assertGreater(before, 40_000)
        self.assertLess(echoed, 1_000)
        self.assertIn("plan ocp-prod, 400 hosts", result["invocation"]["module_args"]["plan"])
        self.assertNotIn("obs-397", json.dumps(result["invocation"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
