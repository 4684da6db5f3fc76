// Unit tests of the topology layer on small sysfs trees written by the test (cases no real dump
// has: CXL dax/kmem, overflowing capacities, memory tiers, a single node) and on this machine.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "topology.h"

namespace {

class FakeSys {
 public:
  FakeSys() {
    char tmpl[] = "/tmp/ta-topo-test.XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~FakeSys() { std::system(("rm -rf '" + root_ + "'").c_str()); }
  void write(const std::string &path, const std::string &text) {
    mkdirs(path.substr(0, path.rfind('/')));
    std::ofstream(root_ + path) << text;
  }
  void link(const std::string &path, const std::string &target) {
    mkdirs(path.substr(0, path.rfind('/')));
    ASSERT_EQ(symlink(target.c_str(), (root_ + path).c_str()), 0);
  }
  // A node with CPUs `cpus` (cpulist form), `mib` MiB and a SLIT row.
  void node(int id, const std::string &cpus, unsigned mib, const std::string &distance) {
    std::string d = "/sys/devices/system/node/node" + std::to_string(id);
    write(d + "/cpulist", cpus + "\n");
    write(d + "/meminfo", "Node " + std::to_string(id) + " MemTotal:       " + std::to_string(mib * 1024) + " kB\n");
    write(d + "/distance", distance + "\n");
  }
  const std::string &root() const { return root_; }

 private:
  void mkdirs(const std::string &rel) {
    std::string p = root_;
    size_t i = 0;
    while (i < rel.size()) {
      size_t j = rel.find('/', i + 1);
      if (j == std::string::npos) j = rel.size();
      p = root_ + rel.substr(0, j);
      mkdir(p.c_str(), 0755);
      i = j;
    }
  }
  std::string root_;
};

std::unique_ptr<ta_topo_t> read(const FakeSys &fs, int *err) {
  auto t = std::make_unique<ta_topo_t>();
  *err = ta_topo_sysfs_read(t.get(), fs.root().c_str());
  if (*err == 0) {
    EXPECT_EQ(ta_topology_check(t.get()), 0);
  }
  return t;
}

// The checker catches what it claims to.
TEST(Snapshot, CheckRejectsBrokenSnapshots) {
  auto t = std::make_unique<ta_topo_t>();
  ta_topology_fallback(t.get(), 1 << 30, 2);
  ASSERT_EQ(ta_topology_check(t.get()), 0);
  t->initiator[0].rank[0] = 5;   // a node that does not exist
  EXPECT_EQ(ta_topology_check(t.get()), EINVAL);
  ta_topology_fallback(t.get(), 1 << 30, 2);
  t->node[0].kind = TA_NODE_GPU;   // GPU memory in a rank
  EXPECT_EQ(ta_topology_check(t.get()), EINVAL);
  ta_topology_fallback(t.get(), 1 << 30, 2);
  t->cpu_initiator[1] = TA_TOPO_NONE;   // an allowed CPU in no group
  EXPECT_EQ(ta_topology_check(t.get()), EINVAL);
}

// Two sockets and a CPU-less node 2 whose memory comes from a dax device on a CXL region, onlined
// by kmem: kind cxl, ranked after both DRAM nodes although its SLIT from node 0 is smaller than
// node 1's.
TEST(SysfsFake, CxlThroughDaxKmem) {
  FakeSys fs;
  fs.write("/sys/devices/system/cpu/online", "0-3\n");
  fs.write("/sys/devices/system/node/online", "0-2\n");
  fs.node(0, "0-1", 1024, "10 21 14");
  fs.node(1, "2-3", 1024, "21 10 24");
  fs.node(2, "", 4096, "14 24 10");
  fs.link("/sys/bus/dax/devices/dax0.0",
          "../../../devices/platform/ACPI0017:00/root0/decoder0.0/region0/dax_region0/dax0.0");
  fs.write("/sys/devices/platform/ACPI0017:00/root0/decoder0.0/region0/dax_region0/dax0.0/target_node", "2\n");
  int err;
  auto t = read(fs, &err);
  ASSERT_EQ(err, 0);
  ASSERT_EQ(t->nnodes, 3u);
  EXPECT_EQ(t->node[2].kind, TA_NODE_CXL);
  EXPECT_EQ(t->node[2].capacity_bytes, 4096ull << 20);
  const ta_topo_initiator_t *in = ta_topology_cpu_initiator(t.get(), 0);
  ASSERT_NE(in, nullptr);
  ASSERT_EQ(in->nrank, 3);
  EXPECT_EQ(in->rank[0], 0);
  EXPECT_EQ(in->rank[1], 1);
  EXPECT_EQ(in->rank[2], 2);
  uint8_t tier[4];
  EXPECT_EQ(ta_topology_tier(in, 2, tier, 4), 1u);
  EXPECT_EQ(tier[0], 2);
  EXPECT_EQ(ta_topology_tier(in, 3, tier, 4), 0u);
  EXPECT_EQ(in->nheap, 3);   // far memory stays usable for a plain malloc, after DRAM
}

// Soft-reserved memory: faster than DRAM is HBM, slower is CXL, no numbers says nothing.
TEST(SysfsFake, SoftReservedBandwidthDecides) {
  for (unsigned bw : {40000u, 5000u, 0u}) {
    FakeSys fs;
    fs.write("/sys/devices/system/cpu/online", "0-1\n");
    fs.write("/sys/devices/system/node/online", "0-1\n");
    fs.node(0, "0-1", 1024, "10 20");
    fs.node(1, "", 1024, "20 10");
    fs.write("/sys/devices/system/node/node0/access1/initiators/read_bandwidth", "20000\n");
    fs.link("/sys/devices/system/node/node0/access1/initiators/node0", "../../../node0");
    if (bw) {
      fs.write("/sys/devices/system/node/node1/access1/initiators/read_bandwidth", std::to_string(bw) + "\n");
      fs.link("/sys/devices/system/node/node1/access1/initiators/node0", "../../../node0");
    }
    fs.link("/sys/bus/dax/devices/dax1.0", "../../../devices/platform/hmem.1/dax1.0");
    fs.write("/sys/devices/platform/hmem.1/dax1.0/target_node", "1\n");
    int err;
    auto t = read(fs, &err);
    ASSERT_EQ(err, 0);
    ta_node_kind_t want = bw == 40000 ? TA_NODE_HBM : bw ? TA_NODE_CXL : TA_NODE_UNKNOWN;
    EXPECT_EQ(t->node[1].kind, want) << "bandwidth " << bw;
    EXPECT_EQ(t->bandwidth[0][1], bw);
  }
}

// The kernel's memory tiers: a node it demoted is far whatever else it looks like.
TEST(SysfsFake, MemoryTierDemotes) {
  FakeSys fs;
  fs.write("/sys/devices/system/cpu/online", "0-1\n");
  fs.write("/sys/devices/system/node/online", "0-2\n");
  fs.node(0, "0", 1024, "10 20 12");
  fs.node(1, "1", 1024, "20 10 22");
  fs.node(2, "", 1024, "12 22 10");
  fs.write("/sys/devices/virtual/memory_tiering/memory_tier4/nodelist", "0-1\n");
  fs.write("/sys/devices/virtual/memory_tiering/memory_tier22/nodelist", "2\n");
  int err;
  auto t = read(fs, &err);
  ASSERT_EQ(err, 0);
  EXPECT_EQ(t->node[0].memory_tier, 4);
  EXPECT_EQ(t->node[2].memory_tier, 22);
  const ta_topo_initiator_t &in = t->initiator[0];
  ASSERT_EQ(in.nrank, 3);
  EXPECT_EQ(in.rank[2], 2);
}

// cgroup v2 limits from /proc/self/cpuset + /proc/mounts, and Mems_allowed from status.
TEST(SysfsFake, CgroupAndMemsAllowed) {
  FakeSys fs;
  fs.write("/sys/devices/system/cpu/online", "0-3\n");
  fs.write("/sys/devices/system/node/online", "0-1\n");
  fs.node(0, "0-1", 1024, "10 20");
  fs.node(1, "2-3", 1024, "20 10");
  fs.write("/proc/self/cpuset", "/job\n");
  fs.write("/proc/mounts", "proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n");
  fs.write("/sys/fs/cgroup/job/cpuset.cpus.effective", "1-2\n");
  fs.write("/proc/self/status", "Name:\tx\nMems_allowed_list:\t0\n");
  int err;
  auto t = read(fs, &err);
  ASSERT_EQ(err, 0);
  EXPECT_TRUE(t->node[0].usable);
  EXPECT_FALSE(t->node[1].usable);
  ASSERT_EQ(t->ninitiators, 2u);
  EXPECT_EQ(t->initiator[0].home, 0);
  EXPECT_EQ(t->initiator[0].ncpus, 1u);
  // CPU 2's node is not ours to use: no home, distances from node 1, only node 0 ranked.
  EXPECT_EQ(t->initiator[1].home, TA_TOPO_NONE);
  EXPECT_EQ(t->initiator[1].anchor, 1);
  ASSERT_EQ(t->initiator[1].nrank, 1);
  EXPECT_EQ(t->initiator[1].rank[0], 0);
  EXPECT_EQ(ta_topology_cpu_initiator(t.get(), 0), nullptr);
  EXPECT_EQ(ta_topology_cpu_node(t.get(), 3), 1);
}

TEST(SysfsFake, SingleNode) {
  FakeSys fs;
  fs.write("/sys/devices/system/cpu/online", "0-7\n");
  fs.write("/sys/devices/system/node/online", "0\n");
  fs.node(0, "0-7", 2048, "10");
  int err;
  auto t = read(fs, &err);
  ASSERT_EQ(err, 0);
  EXPECT_EQ(t->nnodes, 1u);
  EXPECT_EQ(ta_topology_cpu_node_count(t.get()), 1u);
  EXPECT_EQ(t->initiator[0].nheap, 1);
}

TEST(SysfsFake, Overflow) {
  {
    FakeSys fs;   // 65 nodes
    fs.write("/sys/devices/system/cpu/online", "0\n");
    fs.write("/sys/devices/system/node/online", "0-64\n");
    for (int i = 0; i <= 64; i++) fs.node(i, i ? "" : "0", 16, "10");
    int err;
    read(fs, &err);
    EXPECT_EQ(err, E2BIG);
  }
  {
    FakeSys fs;   // a node number past 1023
    fs.write("/sys/devices/system/cpu/online", "0\n");
    fs.write("/sys/devices/system/node/online", "0,1024\n");
    fs.node(0, "0", 16, "10 20");
    int err;
    read(fs, &err);
    EXPECT_EQ(err, E2BIG);
  }
  {
    FakeSys fs;   // a CPU number past 4095
    fs.write("/sys/devices/system/cpu/online", "0-4096\n");
    fs.write("/sys/devices/system/node/online", "0\n");
    fs.node(0, "0", 16, "10");
    int err;
    read(fs, &err);
    EXPECT_EQ(err, E2BIG);
  }
  {
    FakeSys fs;   // no node directory at all: a kernel without NUMA
    fs.write("/sys/devices/system/cpu/online", "0\n");
    int err;
    read(fs, &err);
    EXPECT_EQ(err, ENOENT);
  }
}

// Old dumps: no online files, hex cpumaps.
TEST(SysfsFake, CpumapWithoutOnlineFiles) {
  FakeSys fs;
  fs.write("/sys/devices/system/cpu/cpu0/topology/physical_package_id", "0\n");
  fs.write("/sys/devices/system/cpu/cpu33/topology/physical_package_id", "0\n");
  fs.write("/sys/devices/system/cpu/cpu34/online", "0\n");
  fs.write("/sys/devices/system/node/node0/cpumap", "00000006,00000001\n");
  fs.write("/sys/devices/system/node/node0/meminfo", "Node 0 MemTotal: 1024 kB\n");
  int err;
  auto t = read(fs, &err);
  ASSERT_EQ(err, 0);
  char buf[64];
  ta_topo_dump_cpulist(&t->node[0].cpus, buf, sizeof(buf));
  EXPECT_STREQ(buf, "0,33");   // 34 is offline, 1-32 have no cpu directory
}

// AArch64 identity from MIDR_EL1 when cpuinfo has no "CPU part" (here: no cpuinfo at all).
TEST(SysfsFake, MidrWithoutCpuinfo) {
  FakeSys fs;
  fs.write("/sys/devices/system/cpu/online", "1\n");
  fs.write("/sys/devices/system/node/online", "0\n");
  fs.node(0, "1", 64, "10");
  fs.write("/sys/devices/system/cpu/cpu1/regs/identification/midr_el1", "0x00000000413fd490\n");
  int err;
  auto t = read(fs, &err);
  ASSERT_EQ(err, 0);
  EXPECT_EQ(t->arch, TA_ARCH_AARCH64);
  EXPECT_EQ(t->cpu_implementer, 0x41u);
  EXPECT_EQ(t->cpu_part, 0xd49u);   // Neoverse N2
}

TEST(Snapshot, FallbackAndDump) {
  auto t = std::make_unique<ta_topo_t>();
  ta_topology_fallback(t.get(), 1 << 30, 4);
  EXPECT_EQ(ta_topology_check(t.get()), 0);
  EXPECT_EQ(t->nnodes, 1u);
  EXPECT_EQ(ta_topology_cpu_node(t.get(), 3), 0);
  EXPECT_EQ(ta_topology_cpu_node(t.get(), 4), -1);
  EXPECT_EQ(ta_topology_cpu_node(t.get(), 100000), -1);
  size_t need = ta_topo_dump_json(t.get(), "x", nullptr, 0);
  ASSERT_GT(need, 50u);
  char small[16];
  EXPECT_EQ(ta_topo_dump_json(t.get(), "x", small, sizeof(small)), need);
  EXPECT_EQ(strlen(small), sizeof(small) - 1);
  std::string full(need + 1, '\0');
  ta_topo_dump_json(t.get(), "x", full.data(), full.size());
  EXPECT_NE(full.find("\"default_heap\": [0]"), std::string::npos) << full;
  EXPECT_NE(full.find("\"cpus\": \"0-3\""), std::string::npos) << full;
}

// This machine: init publishes the bootstrap snapshot, refine replaces it (or keeps it on one
// node), and a pointer taken before stays readable.
TEST(Snapshot, InitRefineThisMachine) {
  ta_topology_init();
  const ta_topo_t *first = ta_topology_get();
  ASSERT_NE(first, nullptr);
  ASSERT_GE(first->nnodes, 1u);
  EXPECT_EQ(ta_topology_init(), 0);   // idempotent
  EXPECT_EQ(ta_topology_get(), first);
  ASSERT_EQ(ta_topology_refine(), 0);
  const ta_topo_t *now = ta_topology_get();
  if (first->nnodes == 1) EXPECT_EQ(now, first);
  else EXPECT_NE(now, first);
  EXPECT_EQ(now->nnodes, first->nnodes);
  EXPECT_GE(first->node[0].capacity_bytes, 1u << 20);   // the old snapshot is still there
  int cpu = sched_getcpu();
  ASSERT_GE(cpu, 0);
  EXPECT_GE(ta_topology_cpu_node(now, (unsigned)cpu), 0);
  EXPECT_NE(ta_topology_cpu_initiator(now, (unsigned)cpu), nullptr);
}

}  // namespace
