// state.cc — what the addon holds for the process: exit-record slots, vCPUs, logical threads, and
// the teardown that releases them as process exit would.
#include "core.h"

#include <sys/mman.h>

#include <chrono>
#include <cstring>
#include <new>
#include <thread>

#include "faults.h"

namespace hvspec {

State *GetState(Napi::Env env) { return env.GetInstanceData<State>(); }

int State::AllocSlot() {
  for (uint32_t i = 0; i < kSlots; i++) {
    if (!slot_used[i]) {
      slot_used[i] = true;
      if (records) std::memset(Slot(i), 0, kSlotAddonWords * sizeof(uint64_t));
      return static_cast<int>(i);
    }
  }
  return -1;
}

void State::FreeSlot(uint32_t slot) {
  if (slot >= kSlots) return;
  slot_used[slot] = false;
  if (records) std::memset(Slot(slot), 0, kSlotAddonWords * sizeof(uint64_t));
}

void State::AddVcpu(uint64_t handle, uint64_t owner, uint32_t slot, const void *exit_ptr) {
  auto old = vcpus.find(handle);
  if (old != vcpus.end()) FreeSlot(old->second.slot);
  vcpus[handle] = VcpuEntry{handle, owner, slot, exit_ptr};
  out[0] = handle;
  out[1] = slot;
}

void State::RemoveVcpu(uint64_t handle) {
  auto it = vcpus.find(handle);
  if (it == vcpus.end()) return;
  FreeSlot(it->second.slot);
  vcpus.erase(it);
}

LogicalThread *State::Thread(uint64_t id) {
  auto it = threads.find(id);
  if (it != threads.end()) return it->second.get();
  if (threads.size() >= kMaxLiveThreads) return nullptr;
  std::unique_ptr<LogicalThread> thread(FaultFails(kFaultAlloc) ? nullptr : new (std::nothrow) LogicalThread(id));
  if (thread == nullptr || !thread->Start()) return nullptr;
  LogicalThread *raw = thread.get();
  threads.emplace(id, std::move(thread));
  return raw;
}

void State::ReleaseIdle(uint64_t t) {
  if (t == 0) return;
  auto it = threads.find(t);
  if (it == threads.end() || it->second->async_busy.load()) return;
  for (auto &v : vcpus)
    if (v.second.owner == t) return;
  it->second->Join();
  threads.erase(it);
}

void State::Teardown() {
  generation++;
  // 1. Async runs still in the guest: kick their threads' vCPUs until they return. A kick is sticky
  //    (hvf-facts.md §1.7, §2.4 [H/R]), so a run that has not entered the guest yet also returns.
  //    If a run never returns (a broken provider), its thread is abandoned rather than the process
  //    hanging at exit, and the VM and buffers it may use are deliberately leaked.
  bool abandoned = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::vector<uint64_t> kick;
    bool busy = false;
    for (auto &entry : threads) {
      if (!entry.second->async_busy.load()) continue;
      busy = true;
      for (auto &v : vcpus)
        if (v.second.owner == entry.first) kick.push_back(v.second.handle);
    }
    if (!busy) break;
    if (std::chrono::steady_clock::now() > deadline) {
      abandoned = true;
      break;
    }
    if (!kick.empty()) FlavourKick(kick);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  // 2. vCPUs are destroyed on their owning threads: a cross-thread hv_vcpu_destroy is forbidden and
  //    was reported to panic macOS hosts (hvf-facts.md §3, §5.17 [H rule / R]).
  for (auto &v : vcpus) {
    const VcpuEntry &entry = v.second;
    if (entry.owner == 0) {
      FlavourDestroyVcpu(entry.handle);
      continue;
    }
    auto it = threads.find(entry.owner);
    if (it == threads.end() || it->second->async_busy.load()) continue;
    uint64_t handle = entry.handle;
    it->second->RunSync([handle] { FlavourDestroyVcpu(handle); });
  }
  for (auto &v : vcpus) FreeSlot(v.second.slot);
  vcpus.clear();

  // 3. Then the VM ("requires all vCPUs be destroyed", §2.3 [H]); hv_vm_destroy is per process, so
  //    any thread may call it.
  if (vm_created && !abandoned) {
    if (FlavourDestroyVm() == 0) vm_created = false;
  }
  for (auto &c : configs) FlavourReleaseConfig(c.second.object);
  configs.clear();

  // 4. Threads.
  for (auto &entry : threads) {
    if (entry.second->async_busy.load()) {
      (void)entry.second.release();  // abandoned: never joined, never freed
    } else {
      entry.second->Join();
    }
  }
  threads.clear();

  // 5. Host buffers, unless a VM we could not destroy may still map them.
  if (!vm_created) {
    for (auto &b : buffers) {
      if (b.second.framework)
        FlavourDeallocate(b.second.base, b.second.size);
      else
        munmap(b.second.base, b.second.size);
    }
  }
  buffers.clear();
  vm_created = false;
}

State::~State() {
  if (!torn_down) Teardown();
  torn_down = true;
  // Without the cleanup hook (which deletes the references) the env is half gone: deleting them
  // now could fail, and a failed delete would abort. They are left to the process's end.
  records_ref.SuppressDestruct();
  out_ref.SuppressDestruct();
}

}  // namespace hvspec
