# Compares two junit-xml reports of `python3 -m test` (reference allocator, library under test)
# module by module. Prints one line per module whose outcome differs, then a summary line; exits
# 1 when a module that passed on the reference fails (or is missing) under the library.
# Usage: python_compare.py REF.xml OUT.xml
import sys
import xml.etree.ElementTree as ET


def modules(path):
    out = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        parts = tc.get("name", "").split(".")
        mod = parts[1] if parts[0] == "test" and len(parts) > 1 else parts[0]
        m = out.setdefault(mod, {"run": 0, "bad": 0})
        m["run"] += 1
        if tc.find("failure") is not None or tc.find("error") is not None:
            m["bad"] += 1
    return out


ref, out = modules(sys.argv[1]), modules(sys.argv[2])
regressions = 0
for mod in sorted(ref):
    r, o = ref[mod], out.get(mod)
    if o is None:
        print("module %s: ran on the reference, missing under the library" % mod)
        regressions += r["bad"] == 0
    elif (r["bad"] == 0) != (o["bad"] == 0) or r["run"] != o["run"]:
        print("module %s: reference %d run %d failed, library %d run %d failed"
              % (mod, r["run"], r["bad"], o["run"], o["bad"]))
        regressions += r["bad"] == 0 and (o["bad"] > 0 or o["run"] < r["run"])
tests = sum(m["run"] for m in out.values())
print("python: %d modules, %d test cases under the library, %d regressions against the reference"
      % (len(out), tests, regressions))
sys.exit(1 if regressions else 0)
