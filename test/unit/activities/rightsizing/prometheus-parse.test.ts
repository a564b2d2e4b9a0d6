/** Prometheus answers → series, or a typed failure: NaN/±Inf dropped, status:error, HTTP errors, garbage. */
import { expect } from 'chai';
import { groupByWorkload, parseMatrix } from '../../../../activities/rightsizing/prometheus';
import { matrix } from './canned-server';

const m = (pod: string, container: string, values: [number, string][]) => ({ metric: { namespace: 'ns', pod, container }, values });

describe('rightsizing providers: Prometheus answers', () => {
  it('a matrix becomes series of (epoch ms, value) points', () => {
    const r = parseMatrix(
      200,
      matrix([
        m('web-1', 'app', [
          [1000, '0.25'],
          [1060.5, '0.5'],
        ]),
      ]),
    );
    expect(r).to.deep.equal({
      ok: true,
      series: [
        {
          namespace: 'ns',
          pod: 'web-1',
          container: 'app',
          points: [
            [1_000_000, 0.25],
            [1_060_500, 0.5],
          ],
        },
      ],
      droppedPoints: 0,
      warnings: [],
    });
  });

  it('NaN, +Inf, -Inf and unparsable values are dropped and counted; a series left empty is left out', () => {
    const r = parseMatrix(
      200,
      matrix([
        m('a', 'app', [
          [1, 'NaN'],
          [2, '0.1'],
          [3, '+Inf'],
        ]),
        m('b', 'app', [
          [1, '-Inf'],
          [2, 'NaN'],
          [3, 'x'],
        ]),
      ]),
    );
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.series.map((s) => [s.pod, s.points])).to.deep.equal([['a', [[2000, 0.1]]]]);
    expect(r.droppedPoints).to.equal(5);
  });

  it('series without pod or container labels are left out', () => {
    const r = parseMatrix(200, matrix([{ metric: { namespace: 'ns', pod: 'a' }, values: [[1, '1']] }, m('b', 'app', [[1, '1']])]));
    expect(r.ok && r.series.map((s) => s.pod)).to.deep.equal(['b']);
  });

  it('status:"error" is a QueryError with Prometheus’s message, whatever the HTTP status', () => {
    const body = JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 5' });
    for (const status of [400, 422, 200]) {
      const r = parseMatrix(status, body);
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.failure).to.equal('QueryError');
      expect(r.message).to.contain('bad_data').and.contain('parse error at char 5');
    }
  });

  it('an HTTP error without a Prometheus body is an HttpError; garbage with 200 is an InvalidResponse', () => {
    expect(parseMatrix(503, 'Service Unavailable')).to.include({ ok: false, failure: 'HttpError' });
    expect(parseMatrix(502, '{"oops":1}')).to.include({ ok: false, failure: 'HttpError' });
    expect(parseMatrix(200, '<html>login</html>')).to.include({ ok: false, failure: 'InvalidResponse' });
    expect(parseMatrix(200, JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }))).to.include({
      ok: false,
      failure: 'InvalidResponse',
    });
    expect(parseMatrix(200, JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [['1', '2']] }] } }))).to.include({
      ok: false,
      failure: 'InvalidResponse',
    });
  });

  it('an empty matrix is a success with no series (the provider turns it into InsufficientData)', () => {
    expect(parseMatrix(200, matrix([]))).to.deep.equal({ ok: true, series: [], droppedPoints: 0, warnings: [] });
  });

  it('grouping: the replicas of a workload pool into one (workload, container), CPU in millicores, in time order', () => {
    const web = { kind: 'Deployment' as const, namespace: 'ns', name: 'web' };
    const cpu = [
      {
        namespace: 'ns',
        pod: 'web-b',
        container: 'app',
        points: [
          [2000, 0.3],
          [1000, 0.2],
        ] as [number, number][],
      },
      { namespace: 'ns', pod: 'web-a', container: 'app', points: [[1000, 0.1]] as [number, number][] },
      { namespace: 'ns', pod: 'web-a', container: 'sidecar', points: [[1000, 0.01]] as [number, number][] },
      { namespace: 'ns', pod: 'bare', container: 'app', points: [[1000, 1]] as [number, number][] },
    ];
    const memory = [{ namespace: 'ns', pod: 'web-a', container: 'app', points: [[1000, 100]] as [number, number][] }];
    const g = groupByWorkload(cpu, memory, (p) => (p.startsWith('web-') ? web : undefined));
    expect(g.unowned).to.deep.equal(['bare']);
    expect(g.containers).to.have.length(2);
    const app = g.containers.find((c) => c.container === 'app')!;
    expect(app.workload).to.deep.equal(web);
    expect(app.pods).to.deep.equal(['web-a', 'web-b']);
    expect(app.cpu).to.deep.equal([
      [1000, 100],
      [1000, 200],
      [2000, 300],
    ]);
    expect(app.memory).to.deep.equal([[1000, 100]]);
    expect(g.containers.find((c) => c.container === 'sidecar')!.cpu).to.deep.equal([[1000, 10]]);
  });
});
