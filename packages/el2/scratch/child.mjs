import { createEl2Backend } from '/work/wt/el2/packages/el2/src/index.ts';
const b = createEl2Backend();
b.hv_vm_create(0, null);
console.log('ok', b.host_alloc(0x4000), b.qemuPid);
await b.close();
