import { FINAL_STAGES, SCAN_STAGES } from '../domain';
import { STAGE_KIND } from './scan-state';

describe('STAGE_KIND', () => {
  it('places every stage, and its final stages are the domain’s', () => {
    expect(Object.keys(STAGE_KIND).sort()).toEqual([...SCAN_STAGES].sort());
    const final = SCAN_STAGES.filter((stage) => STAGE_KIND[stage] === 'final');
    expect(final.sort()).toEqual([...FINAL_STAGES].sort());
  });

  it('has needs-attention as the only stage that waits for a manager', () => {
    expect(SCAN_STAGES.filter((stage) => STAGE_KIND[stage] === 'attention')).toEqual(['needs-attention']);
  });
});
