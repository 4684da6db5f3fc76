/* tieralloc-topology: prints the memory topology as tieralloc sees it, as a table or as JSON,
 * for this machine, an hwloc XML export or a sysfs dump. Usage in docs/topology.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: tieralloc-topology [--json] [--xml FILE | --fsroot DIR] [--source S]\n"
          "  --json        print the JSON document instead of the table\n"
          "  --xml FILE    describe the machine of an hwloc XML export (hwloc only)\n"
          "  --fsroot DIR  describe the machine of a sysfs/procfs dump (hwloc-gather-topology)\n"
          "  --source S    merged (default: the bootstrap snapshot refined by hwloc, as the\n"
          "                allocator ends up with), sysfs (the bootstrap reader alone) or hwloc\n"
          "                (hwloc alone)\n");
}

/* The profile of the described machine: this one's from the platform layer; a dump's from the
 * MIDR fields of its cpuinfo where it is an Arm Neoverse, else "generic". */
static const char *dump_profile(const ta_topo_t *t) {
  if (t->arch == TA_ARCH_X86_64) return "x86-64";
  if (t->arch == TA_ARCH_AARCH64 && t->cpu_implementer == 0x41) {
    switch (t->cpu_part) {
      case 0xd0c: return "neoverse-n1";
      case 0xd40: return "neoverse-v1";
      case 0xd49: return "neoverse-n2";
      case 0xd4f: return "neoverse-v2";
      case 0xd8e: return "neoverse-n3";
      case 0xd84: return "neoverse-v3";
      default: break;
    }
  }
  return "generic";
}

int main(int argc, char **argv) {
  bool json = false;
  const char *xml = NULL, *fsroot = NULL, *source = "merged";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = true;
    else if (!strcmp(argv[i], "--xml") && i + 1 < argc) xml = argv[++i];
    else if (!strcmp(argv[i], "--fsroot") && i + 1 < argc) fsroot = argv[++i];
    else if (!strcmp(argv[i], "--source") && i + 1 < argc) source = argv[++i];
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
    else { usage(stderr); return 2; }
  }
  bool want_sysfs = strcmp(source, "hwloc") != 0, want_hwloc = strcmp(source, "sysfs") != 0;
  if (strcmp(source, "merged") && strcmp(source, "sysfs") && strcmp(source, "hwloc")) {
    usage(stderr);
    return 2;
  }
  if (xml && fsroot) {
    fprintf(stderr, "tieralloc-topology: --xml and --fsroot exclude each other\n");
    return 2;
  }
  if (xml) {
    if (!strcmp(source, "sysfs")) {
      fprintf(stderr, "tieralloc-topology: an XML export has no sysfs to read\n");
      return 2;
    }
    want_sysfs = false;
  }
  ta_topo_t *sys = calloc(1, sizeof(*sys)), *hw = calloc(1, sizeof(*hw));
  if (!sys || !hw) return 1;
  const ta_topo_t *shown = NULL;
  if (want_sysfs) {
    int err = ta_topo_sysfs_read(sys, fsroot ? fsroot : "");
    if (err == ENOENT && !fsroot) {
      ta_os_init();
      ta_topology_fallback(sys, 0, ta_os_info.ncpus);
    } else if (err) {
      fprintf(stderr, "tieralloc-topology: reading %s/sys: %s\n", fsroot ? fsroot : "", strerror(err));
      return 1;
    }
    shown = sys;
  }
  if (want_hwloc) {
    ta_topo_hwloc_opts_t opts = {xml, fsroot, true};
    int err = ta_topo_hwloc_read(hw, &opts);
    if (err) {
      fprintf(stderr, "tieralloc-topology: hwloc: %s\n", strerror(err));
      return 1;
    }
    if (want_sysfs) ta_topology_merge(hw, sys);
    shown = hw;
  }
  /* A dump's processor is in its cpuinfo, which only the sysfs reader looks at (hwloc reports the
   * running kernel's architecture even for a dump). */
  if (fsroot && !want_sysfs && ta_topo_sysfs_read(sys, fsroot) != 0) sys->arch = TA_ARCH_UNKNOWN;
  const char *profile = fsroot ? dump_profile(sys) : xml ? dump_profile(shown) : ta_arch_profile_name();
  size_t need = json ? ta_topo_dump_json(shown, profile, NULL, 0) : ta_topo_dump_table(shown, profile, NULL, 0);
  char *buf = malloc(need + 1);
  if (!buf) return 1;
  if (json) ta_topo_dump_json(shown, profile, buf, need + 1);
  else ta_topo_dump_table(shown, profile, buf, need + 1);
  fputs(buf, stdout);
  free(buf);
  free(sys);
  free(hw);
  return 0;
}
