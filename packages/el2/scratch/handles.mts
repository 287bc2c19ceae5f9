import { createEl2Backend } from '../src/index.ts';
const b = createEl2Backend();
b.hv_vm_create(0, null);
b.host_alloc(0x4000);
await b.close();
setTimeout(() => {
  // @ts-ignore
  console.log(process._getActiveHandles().map((h) => h.constructor.name), process._getActiveRequests().length);
}, 200).unref();
