import { capabilities } from '../../lib/capabilities';
import { describeGpu } from '../helpers/cuda';

describeGpu('GPU: device discovery', () => {
  it('lists each device with name, compute capability and memory', () => {
    const caps = capabilities();
    expect(caps.cuda.devices.length).toBeGreaterThan(0);
    for (const d of caps.cuda.devices) {
      expect(d.name.length).toBeGreaterThan(0);
      expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
      expect(d.totalMemory).toBeGreaterThan(1e9);
    }
  });
});
