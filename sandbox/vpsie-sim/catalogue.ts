/**
 * The simulator's default catalogue: a few datacenters, two plan categories with plans from
 * 1 vCPU / 1 GB to 16 vCPU / 64 GB at realistic (not proportional) monthly prices, OS images,
 * and the nicknames the product documents use (`small-2cpu-4gb`, `medium-4cpu-8gb`, `us-east-1`,
 * `ubuntu-22.04-lts`).
 */
export interface SimDatacenter {
  identifier: string;
  dc_name: string;
  state: string;
  country: string;
  id: number;
  default_selected: 0 | 1;
}

export interface SimCategory {
  identifier: string;
  name: string;
}

export interface SimPlan {
  id: number;
  identifier: string;
  nickname: string;
  categoryIdentifier: string;
  cpu: number;
  /** MB */
  ram: number;
  /** GB */
  ssd: number;
  /** GB per month */
  traffic: number;
  /** monthly, USD */
  price: number;
  net_speed: number;
}

export interface SimImage {
  identifier: string;
  name: string;
  os: string;
  version: string;
  id: number;
}

export interface Catalogue {
  datacenters: SimDatacenter[];
  categories: SimCategory[];
  plans: SimPlan[];
  images: SimImage[];
}

export const CAT_SHARED = 'c3c4a0a2-9f51-11ee-8c90-0242ac120002';
export const CAT_COMPUTE = 'c3c4a3d6-9f51-11ee-8c90-0242ac120002';

export function defaultCatalogue(): Catalogue {
  const datacenters: SimDatacenter[] = [
    { id: 1, identifier: '55f06b85-c9ee-11e3-9845-005056aa8af7', dc_name: 'us-east-1', state: 'New York', country: 'US', default_selected: 1 },
    { id: 2, identifier: '55f06b85-c9ee-11e3-9845-005056aa8af8', dc_name: 'us-west-1', state: 'California', country: 'US', default_selected: 0 },
    { id: 3, identifier: '55f06b85-c9ee-11e3-9845-005056aa8af9', dc_name: 'eu-central-1', state: 'Frankfurt', country: 'DE', default_selected: 0 },
  ];
  const categories: SimCategory[] = [
    { identifier: CAT_SHARED, name: 'Shared CPU' },
    { identifier: CAT_COMPUTE, name: 'Compute Optimized' },
  ];
  // [nickname, cpu, ramGB, ssdGB, trafficGB, monthly price]
  const shared: [string, number, number, number, number, number][] = [
    ['micro-1cpu-1gb', 1, 1, 25, 1000, 5],
    ['small-1cpu-2gb', 1, 2, 40, 2000, 9],
    ['small-2cpu-4gb', 2, 4, 80, 3000, 19],
    ['medium-4cpu-8gb', 4, 8, 160, 4000, 36],
    ['large-8cpu-16gb', 8, 16, 320, 5000, 69],
    ['xlarge-8cpu-32gb', 8, 32, 480, 6000, 119],
    ['xxlarge-16cpu-64gb', 16, 64, 960, 8000, 229],
  ];
  const compute: [string, number, number, number, number, number][] = [
    ['c-2cpu-4gb', 2, 4, 50, 3000, 29],
    ['c-4cpu-8gb', 4, 8, 100, 4000, 55],
    ['c-8cpu-16gb', 8, 16, 200, 5000, 105],
    ['c-16cpu-32gb', 16, 32, 400, 6000, 199],
    ['c-16cpu-64gb', 16, 64, 400, 8000, 259],
  ];
  const plans: SimPlan[] = [];
  let id = 1;
  const add = (rows: typeof shared, cat: string) => {
    for (const [nickname, cpu, ramGb, ssd, traffic, price] of rows) {
      const n = id++;
      plans.push({
        id: n,
        identifier: `7a1e${String(n).padStart(4, '0')}-37df-11ee-8bba-0050569c68dc`,
        nickname,
        categoryIdentifier: cat,
        cpu,
        ram: ramGb * 1024,
        ssd,
        traffic,
        price,
        net_speed: cat === CAT_COMPUTE ? 10000 : 1000,
      });
    }
  };
  add(shared, CAT_SHARED);
  add(compute, CAT_COMPUTE);
  const images: SimImage[] = [
    { id: 1, identifier: '17e21ee5-37df-11ee-8bba-0050569c68dc', name: 'ubuntu-22.04-lts', os: 'Ubuntu', version: '22.04' },
    { id: 2, identifier: '17e21ee6-37df-11ee-8bba-0050569c68dc', name: 'ubuntu-24.04-lts', os: 'Ubuntu', version: '24.04' },
    { id: 3, identifier: '17e21ee7-37df-11ee-8bba-0050569c68dc', name: 'debian-12', os: 'Debian', version: '12' },
  ];
  return { datacenters, categories, plans, images };
}

export function findPlan(c: Catalogue, ref: string | number): SimPlan | undefined {
  const s = String(ref);
  return c.plans.find((p) => p.identifier === s || p.nickname === s || String(p.id) === s);
}

export function findDatacenter(c: Catalogue, ref: string | number): SimDatacenter | undefined {
  const s = String(ref);
  return c.datacenters.find((d) => d.identifier === s || d.dc_name === s || String(d.id) === s);
}

export function findImage(c: Catalogue, ref: string | number): SimImage | undefined {
  const s = String(ref);
  return c.images.find((i) => i.identifier === s || i.name === s || String(i.id) === s);
}

/** VPSie bills monthly prices; an hour costs price / 730. */
export const HOURS_PER_MONTH = 730;
