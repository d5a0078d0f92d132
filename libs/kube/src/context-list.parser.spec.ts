import { parseContextEntry, parseContextList } from './context-list.parser';

describe('context lists', () => {
  it('splits and trims', () => {
    expect(parseContextList(' a, b=ctx-b ,')).toEqual(['a', 'b=ctx-b']);
    expect(parseContextList(undefined)).toEqual([]);
  });

  it.each<[string, Record<string, string>, { name: string; context: string }]>([
    ['kwok-ringmaster-1', {}, { name: 'kwok-ringmaster-1', context: 'kwok-ringmaster-1' }],
    [
      'eu-1=gke_acme_europe-west1_prod',
      {},
      { name: 'eu-1', context: 'gke_acme_europe-west1_prod' },
    ],
    ['ctx-c', { 'ctx-c': 'c' }, { name: 'c', context: 'ctx-c' }],
  ])('%s', (entry, names, expected) => expect(parseContextEntry(entry, names)).toEqual(expected));
});
