// Real machines' topologies (tests/topology/dumps, from hwloc's regression suite; README.md there
// says what each is): each is read by the sysfs bootstrap (sysfs dumps), by hwloc, and by both
// merged as ta_topology_refine does, and the result is compared with the classification written
// here by hand. The expected strings were worked out from the dumps' raw files (cpulists, SLIT,
// HMAT, dax devices, cgroup files), and docs/topology.md explains each rule they exercise.
//
// Format: nodes "os:kind:cpus:u|x" (u = usable); initiators "cpus>home [tie][groups] heap list".
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "topology.h"

namespace {

std::string dumps_dir() {
  const char *d = getenv("TA_TOPO_DUMPS");
  return d ? d : "dumps";
}

std::string cpus(const ta_cpuset_t &s) {
  char buf[8192];
  ta_topo_dump_cpulist(&s, buf, sizeof(buf));
  return buf[0] ? buf : "-";
}

std::string nodes_of(const ta_topo_t &t) {
  std::string out;
  for (unsigned i = 0; i < t.nnodes; i++) {
    const ta_topo_node_t &n = t.node[i];
    if (i) out += ' ';
    out += std::to_string(n.os_index) + ':' + ta_topology_kind_name(n.kind) + ':' + cpus(n.cpus) + ':' +
           (n.usable ? 'u' : 'x');
  }
  return out;
}

std::vector<std::string> initiators_of(const ta_topo_t &t) {
  std::vector<std::string> out;
  for (unsigned i = 0; i < t.ninitiators; i++) {
    const ta_topo_initiator_t &in = t.initiator[i];
    std::string s = cpus(in.cpus) + '>' + (in.home == TA_TOPO_NONE ? "-" : std::to_string(t.node[in.home].os_index)) + ' ';
    for (unsigned k = 0; k < in.nrank; k++) {
      bool opens = k == 0 || in.group[k] != in.group[k - 1];
      bool closes = k + 1 == in.nrank || in.group[k + 1] != in.group[k];
      s += std::string(opens ? "[" : ",") + std::to_string(t.node[in.rank[k]].os_index) + (closes ? "]" : "");
    }
    s += " heap ";
    for (unsigned k = 0; k < in.nheap; k++) s += (k ? "," : "") + std::to_string(t.node[in.heap[k]].os_index);
    out.push_back(s);
  }
  return out;
}

struct Dump {
  const char *name;  // directory under the extracted dumps, or an .xml file
  bool xml;
  const char *nodes;
  std::vector<std::string> initiators;
  const char *profile_arch;  // what the cpuinfo says: "x86", "aarch64", "other", "unknown"
};

const std::vector<Dump> &dumps() {
  static const std::vector<Dump> d = {
      // Kunpeng 920, aarch64 (HiSilicon part 0xd01, not a Neoverse): uneven SLIT 16/25/32/33.
      {"128arm-2pa2n8cluster4co", false, "0:dram:0-31:u 1:dram:32-63:u 2:dram:64-95:u 3:dram:96-127:u",
       {"0-31>0 [0][1][2][3] heap 0,1,2,3", "32-63>1 [1][0][2][3] heap 1,0,2,3",
        "64-95>2 [2][3][1][0] heap 2,3,1,0", "96-127>3 [3][2][1][0] heap 3,2,1,0"},
       "aarch64"},
      // cgroup v2 job: CPUs 0-5, mems 0-5. Nodes 6-7 forbidden (usable false); nodes 2-5 usable
      // but none of their CPUs is ours, so only two initiators, node 1's with CPUs 4-5 only.
      {"32amd64-4s2n4c-cgroup", false,
       "0:dram:0-3:u 1:dram:4-7:u 2:dram:8-11:u 3:dram:12-15:u 4:dram:16-19:u 5:dram:20-23:u "
       "6:dram:24-27:x 7:dram:28-31:x",
       {"0-3>0 [0][1,2,4][3,5] heap 0,1,2,4,3,5", "4-5>1 [1][0,3,5][2,4] heap 1,0,3,5,2,4"}, "x86"},
      // The common two-socket baseline.
      {"32intel64-2p8co2t+8ve", false, "0:dram:0-7,16-23:u 1:dram:8-15,24-31:u",
       {"0-7,16-23>0 [0][1] heap 0,1", "8-15,24-31>1 [1][0] heap 1,0"}, "x86"},
      // Sparse node numbers 0,1,2,33,34,45,72,73 with a two-level SLIT.
      {"48amd64-4d2n6c-sparse", false,
       "0:dram:0-5:u 1:dram:6-11:u 2:dram:12-17:u 33:dram:18-23:u 34:dram:24-29:u 45:dram:30-35:u "
       "72:dram:36-41:u 73:dram:42-47:u",
       {"0-5>0 [0][1,2,34,72][33,45,73] heap 0,1,2,34,72,33,45,73",
        "6-11>1 [1][0,33,34,73][2,45,72] heap 1,0,33,34,73,2,45,72",
        "12-17>2 [2][0,33,34,45,72,73][1] heap 2,0,33,34,45,72,73,1",
        "18-23>33 [33][1,2,34,45][0,72,73] heap 33,1,2,34,45,0,72,73",
        "24-29>34 [34][0,1,2,33,45,72][73] heap 34,0,1,2,33,45,72,73",
        "30-35>45 [45][2,33,34,73][0,1,72] heap 45,2,33,34,73,0,1,72",
        "36-41>72 [72][0,2,34,73][1,33,45] heap 72,0,2,34,73,1,33,45",
        "42-47>73 [73][1,2,45,72][0,33,34] heap 73,1,2,45,72,0,33,34"},
       "x86"},
      // KNL SNC4 hybrid: CPU-less MCDRAM nodes 4-7 are HBM (sysfs: Xeon Phi family 6 model 87;
      // hwloc: MCDRAM subtype). Each cluster's own MCDRAM (highest bandwidth) comes first among
      // them; HBM is never in the default heap.
      {"64intel64-fakeKNL-SNC4-hybrid", false,
       "0:dram:0-3,16-19,32-35,48-51:u 1:dram:4-7,20-23,36-39,52-55:u 2:dram:8-11,24-27,40-43,56-59:u "
       "3:dram:12-15,28-31,44-47,60-63:u 4:hbm:-:u 5:hbm:-:u 6:hbm:-:u 7:hbm:-:u",
       {"0-3,16-19,32-35,48-51>0 [0][1,2,3][7][4,5,6] heap 0,1,2,3",
        "4-7,20-23,36-39,52-55>1 [1][0,2,3][4][5,6,7] heap 1,0,2,3",
        "8-11,24-27,40-43,56-59>2 [2][0,1,3][5][4,6,7] heap 2,0,1,3",
        "12-15,28-31,44-47,60-63>3 [3][0,1,2][6][4,5,7] heap 3,0,1,2"},
       "x86"},
      {"64intel64-fakeKNL-SNC4-hybrid.xml", true,
       "0:dram:0-3,16-19,32-35,48-51:u 1:dram:4-7,20-23,36-39,52-55:u 2:dram:8-11,24-27,40-43,56-59:u "
       "3:dram:12-15,28-31,44-47,60-63:u 4:hbm:-:u 5:hbm:-:u 6:hbm:-:u 7:hbm:-:u",
       {"0-3,16-19,32-35,48-51>0 [0][1,2,3][7][4,5,6] heap 0,1,2,3",
        "4-7,20-23,36-39,52-55>1 [1][0,2,3][4][5,6,7] heap 1,0,2,3",
        "8-11,24-27,40-43,56-59>2 [2][0,1,3][5][4,6,7] heap 2,0,1,3",
        "12-15,28-31,44-47,60-63>3 [3][0,1,2][6][4,5,7] heap 3,0,1,2"},
       "x86"},
      // Synthetic: overlapping nodes 4,5 are dropped (as hwloc does), CPU-less node 2 has no
      // device evidence (unknown, ranked after DRAM), CPUs 4-7 and 12-19 have no node: home null,
      // ranked from the nodes of their own package.
      {"fakeheterocpunuma", false, "0:dram:0-3:u 1:dram:8-11:u 2:unknown:-:u 3:dram:20-23:u",
       {"0-3>0 [0][1][3][2] heap 0,1,3,2", "8-11>1 [1][0][3][2] heap 1,0,3,2",
        "20-23>3 [3][0,1][2] heap 3,0,1,2", "4-7>- [0,1][3][2] heap 0,1,3,2",
        "12-19>- [3][0,1][2] heap 3,0,1,2"},
       "unknown"},   // no cpuinfo in this dump
      // dax/kmem tiers: soft-reserved memory with 10x DRAM's bandwidth is HBM (node 2 even has
      // CPUs 4-5: their home is HBM, which stays out of their heap), NVDIMM dax is pmem. Nodes
      // 3,5,7 exist only as devdax and are not memory: no node invented.
      {"fakeheteromemtiers", false, "0:dram:0-1:u 1:dram:2-3:u 2:hbm:4-5:u 4:hbm:-:u 6:pmem:-:u 8:pmem:-:u 9:pmem:-:u",
       {"0-1>0 [0][1][2,4][8][6,9] heap 0,1,8,6,9", "2-3>1 [1][0][4][2][6][8,9] heap 1,0,6,8,9",
        "4-5>2 [2][0,1][4][9][6,8] heap 0,1,9,6,8"},
       "x86"},
      // SNC2 with interleaved CPU numbering, 2LM (the DDR cache is not a node): SLIT 10/11/21.
      {"memorysidecaches", false,
       "0:dram:0,4,8,12,16,20,24,28,32,36,40,44,48,52,56,60,64,68,72,76:u "
       "1:dram:1,5,9,13,17,21,25,29,33,37,41,45,49,53,57,61,65,69,73,77:u "
       "2:dram:2,6,10,14,18,22,26,30,34,38,42,46,50,54,58,62,66,70,74,78:u "
       "3:dram:3,7,11,15,19,23,27,31,35,39,43,47,51,55,59,63,67,71,75,79:u",
       {"0,4,8,12,16,20,24,28,32,36,40,44,48,52,56,60,64,68,72,76>0 [0][2][1,3] heap 0,2,1,3",
        "1,5,9,13,17,21,25,29,33,37,41,45,49,53,57,61,65,69,73,77>1 [1][3][0,2] heap 1,3,0,2",
        "2,6,10,14,18,22,26,30,34,38,42,46,50,54,58,62,66,70,74,78>2 [2][0][1,3] heap 2,0,1,3",
        "3,7,11,15,19,23,27,31,35,39,43,47,51,55,59,63,67,71,75,79>3 [3][1][0,2] heap 3,1,0,2"},
       "x86"},
      // POWER9 + V100: nodes 250-255 are GPU memory (NVIDIA numa_status / hwloc GPUMemory):
      // never ranked, never in a heap. Only 32 CPUs are online in this trimmed dump.
      {"nvidiagpunumanodes", false,
       "0:dram:0-15:u 8:dram:88-103:u 250:gpu:-:u 251:gpu:-:u 252:gpu:-:u 253:gpu:-:u 254:gpu:-:u 255:gpu:-:u",
       {"0-15>0 [0][8] heap 0,8", "88-103>8 [8][0] heap 8,0"}, "other"},
      // CPUs 0-3 and 21+ offline, node 0 offline: the even CPUs of package 0 have no local
      // memory (home null) and rank node 1 alone.
      {"offline-cpu0-node0", false, "1:dram:5,7,9,11,13,15,17,19:u",
       {"5,7,9,11,13,15,17,19>1 [1] heap 1", "4,6,8,10,12,14,16,18,20>- [1] heap 1"}, "x86"},
      // Cluster-on-Die from a converted hwloc 1.x XML (unnamed distance matrix 10/21/31).
      {"28intel64-2p2g7c-CoDgroups.v1tov2.xml", true, "0:dram:0-6:u 1:dram:7-13:u 2:dram:14-20:u 3:dram:21-27:u",
       {"0-6>0 [0][1][2,3] heap 0,1,2,3", "7-13>1 [1][0][2,3] heap 1,0,2,3", "14-20>2 [2][3][0,1] heap 2,3,0,1",
        "21-27>3 [3][2][0,1] heap 3,2,0,1"},
       "x86"},
      // Four CXL type-3 devices and a soft-reserved dax region, none onlined as memory: one DRAM
      // node, no CXL tier invented.
      {"cxlmem+dax.v2.xml", true, "0:dram:0-3:u", {"0-3>0 [0] heap 0"}, "x86"},
      // The QEMU guest of tests/numa (2s-cxl): node 2 is CPU-less SRAT memory with HMAT 300 ns /
      // 8 GB/s from node 0, no dax device, in the same kernel memory tier as DRAM: kind unknown,
      // ranked after both DRAM nodes by class, latency and SLIT.
      {"qemu-2s-cxl", false, "0:dram:0:u 1:dram:1:u 2:unknown:-:u",
       {"0>0 [0][1][2] heap 0,1,2", "1>1 [1][0][2] heap 1,0,2"}, "x86"},
      // Ours, tests/numa/gather-aarch64: QEMU virt with CPU model neoverse-n1 (MIDR 0x414fd0c1),
      // two CPU nodes and a CPU-less node from the device tree (SLIT only, no HMAT: the far node is
      // placed by class and distance), and the only dump with memory_tiering (all in tier 4).
      {"qemu-aarch64-neoverse-n1", false, "0:dram:0:u 1:dram:1:u 2:unknown:-:u",
       {"0>0 [0][1][2] heap 0,1,2", "1>1 [1][0][2] heap 1,0,2"}, "aarch64"},
  };
  return d;
}

std::string path_of(const Dump &d) { return dumps_dir() + "/" + d.name; }

class DumpTest : public ::testing::TestWithParam<Dump> {};

TEST_P(DumpTest, SysfsBootstrap) {
  const Dump &d = GetParam();
  if (d.xml) GTEST_SKIP() << "an XML export has no sysfs";
  auto t = std::make_unique<ta_topo_t>();
  ASSERT_EQ(ta_topo_sysfs_read(t.get(), path_of(d).c_str()), 0);
  EXPECT_EQ(ta_topology_check(t.get()), 0);
  EXPECT_EQ(nodes_of(*t), d.nodes);
  EXPECT_EQ(initiators_of(*t), d.initiators);
  ta_topo_arch_t want = !strcmp(d.profile_arch, "x86") ? TA_ARCH_X86_64
                        : !strcmp(d.profile_arch, "aarch64") ? TA_ARCH_AARCH64
                        : !strcmp(d.profile_arch, "other")   ? TA_ARCH_OTHER
                                                             : TA_ARCH_UNKNOWN;
  EXPECT_EQ(t->arch, want);
}

TEST_P(DumpTest, Hwloc) {
  const Dump &d = GetParam();
  auto t = std::make_unique<ta_topo_t>();
  std::string p = path_of(d);
  ta_topo_hwloc_opts_t o = {d.xml ? p.c_str() : nullptr, d.xml ? nullptr : p.c_str(), true};
  ASSERT_EQ(ta_topo_hwloc_read(t.get(), &o), 0);
  EXPECT_EQ(ta_topology_check(t.get()), 0);
  EXPECT_EQ(nodes_of(*t), d.nodes);
  EXPECT_EQ(initiators_of(*t), d.initiators);
}

// What ta_topology_refine publishes: hwloc, with what only sysfs knows merged in. hwloc is loaded
// without keeping GPU nodes here, as in a live process: the merge must bring them back as gpu.
TEST_P(DumpTest, Merged) {
  const Dump &d = GetParam();
  if (d.xml) GTEST_SKIP() << "an XML export has no sysfs";
  auto s = std::make_unique<ta_topo_t>();
  auto h = std::make_unique<ta_topo_t>();
  std::string p = path_of(d);
  ASSERT_EQ(ta_topo_sysfs_read(s.get(), p.c_str()), 0);
  ta_topo_hwloc_opts_t o = {nullptr, p.c_str(), false};
  ASSERT_EQ(ta_topo_hwloc_read(h.get(), &o), 0);
  ta_topology_merge(h.get(), s.get());
  EXPECT_EQ(ta_topology_check(h.get()), 0);
  EXPECT_EQ(nodes_of(*h), d.nodes);
  EXPECT_EQ(initiators_of(*h), d.initiators);
}

INSTANTIATE_TEST_SUITE_P(Dumps, DumpTest, ::testing::ValuesIn(dumps()), [](const auto &info) {
  std::string n = info.param.name;
  for (char &c : n)
    if (!isalnum((unsigned char)c)) c = '_';
  return n;
});

// Invariants every snapshot must keep, on every dump.
TEST(DumpInvariants, RankAndHeap) {
  for (const Dump &d : dumps()) {
    if (d.xml) continue;
    auto t = std::make_unique<ta_topo_t>();
    ASSERT_EQ(ta_topo_sysfs_read(t.get(), path_of(d).c_str()), 0) << d.name;
    for (unsigned i = 0; i < t->ninitiators; i++) {
      const ta_topo_initiator_t &in = t->initiator[i];
      if (in.home != TA_TOPO_NONE) {
        ASSERT_GT(in.nrank, 0) << d.name;
        EXPECT_EQ(in.rank[0], in.home) << d.name;
        EXPECT_TRUE(in.nrank == 1 || in.group[1] == 1) << d.name << ": home shares its tier";
      }
      for (unsigned k = 0; k < in.nrank; k++) {
        EXPECT_TRUE(t->node[in.rank[k]].usable) << d.name;
        EXPECT_NE(t->node[in.rank[k]].kind, TA_NODE_GPU) << d.name;
      }
      for (unsigned k = 0; k < in.nheap; k++) EXPECT_NE(t->node[in.heap[k]].kind, TA_NODE_GPU) << d.name;
    }
    for (unsigned c = 0; c < t->ncpus_max; c++) {
      if (!ta_cpuset_has(&t->allowed, c)) continue;
      const ta_topo_initiator_t *in = ta_topology_cpu_initiator(t.get(), c);
      ASSERT_NE(in, nullptr) << d.name << " cpu " << c;
      EXPECT_TRUE(ta_cpuset_has(&in->cpus, c));
    }
  }
}

}  // namespace
