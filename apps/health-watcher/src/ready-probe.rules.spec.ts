import {
  isProbed,
  parseReadyProbeAnnotation,
  probeResultOf,
  probeUrlFor,
  renderProbeUrl,
} from './ready-probe.rules';

const vars = { podIP: '10.0.0.7', namespace: 'mimir-mono', pod: 'mimir-0', cluster: 'eu-1' };

describe('renderProbeUrl', () => {
  it.each([
    ['http://{podIP}:8080/ready', vars, 'http://10.0.0.7:8080/ready'],
    [
      'http://127.0.0.1:18080/ready/{namespace}/{pod}',
      vars,
      'http://127.0.0.1:18080/ready/mimir-mono/mimir-0',
    ],
    ['https://gw/{cluster}/{namespace}/{pod}', vars, 'https://gw/eu-1/mimir-mono/mimir-0'],
    ['http://{podIP}:8080/ready', { ...vars, podIP: 'fd00::7' }, 'http://[fd00::7]:8080/ready'],
    ['http://{podIP}:8080/ready', { ...vars, podIP: undefined }, undefined],
    [
      'http://stub/ready/{namespace}/{pod}',
      { ...vars, podIP: undefined },
      'http://stub/ready/mimir-mono/mimir-0',
    ],
  ])('%s with %j -> %s', (template, v, url) => {
    expect(renderProbeUrl(template, v)).toBe(url);
  });
});

describe('probeUrlFor', () => {
  const dflt = { urlTemplate: 'http://{podIP}:8080/ready', explicitUrl: false };
  it('the pod annotation names port and path when the template is the default', () => {
    expect(probeUrlFor(dflt, vars, '9009/ready')).toBe('http://10.0.0.7:9009/ready');
    expect(probeUrlFor(dflt, vars, '9009')).toBe('http://10.0.0.7:9009/ready');
    expect(probeUrlFor(dflt, vars, 'garbage')).toBe('http://10.0.0.7:8080/ready');
    expect(probeUrlFor(dflt, vars)).toBe('http://10.0.0.7:8080/ready');
  });
  it('an explicit template wins over the annotation', () => {
    const explicit = { urlTemplate: 'http://stub/ready/{namespace}/{pod}', explicitUrl: true };
    expect(probeUrlFor(explicit, vars, '9009/ready')).toBe('http://stub/ready/mimir-mono/mimir-0');
  });
});

describe('parseReadyProbeAnnotation', () => {
  it.each([
    ['8080/ready', { port: 8080, path: '/ready' }],
    ['8080/api/v1/ready', { port: 8080, path: '/api/v1/ready' }],
    ['8080', { port: 8080, path: '/ready' }],
    ['0/ready', undefined],
    ['70000/ready', undefined],
    ['ready', undefined],
    [undefined, undefined],
  ])('%s -> %j', (value, parsed) => {
    expect(parseReadyProbeAnnotation(value)).toEqual(parsed);
  });
});

describe('isProbed', () => {
  it('default: annotated pods and monolithic components', () => {
    expect(isProbed({}, 'all')).toBe(true);
    expect(isProbed({}, 'monolithic')).toBe(true);
    expect(isProbed({}, 'ingester')).toBe(false);
    expect(isProbed({}, 'ingester', '8080/ready')).toBe(true);
  });
  it('an explicit list is the whole truth', () => {
    expect(isProbed({ components: ['ingester'] }, 'ingester')).toBe(true);
    expect(isProbed({ components: ['ingester'] }, 'all')).toBe(false);
    expect(isProbed({ components: ['ingester'] }, 'querier', '8080/ready')).toBe(false);
    expect(isProbed({ components: [] }, 'all')).toBe(false);
  });
});

describe('probeResultOf', () => {
  it('only 200 is ok', () => {
    expect(probeResultOf(200)).toBe('ok');
    expect(probeResultOf(204)).toBe('failing');
    expect(probeResultOf(503)).toBe('failing');
    expect(probeResultOf(undefined)).toBe('failing');
  });
});
