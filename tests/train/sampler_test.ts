/**
 * The data order against numpy's RandomState (the reference's InfiniteSampler). Expected values were
 * printed by numpy 2.4.6: `np.random.RandomState(0).permutation(10)` and the sampler loop of
 * physicsnemo/diffusion/utils/utils.py for 10 samples, window 0.5; when python3 with numpy is
 * present the test also recomputes them.
 */
import { InfiniteSampler, MT19937 } from "../../src/train/sampler.ts";
import { assertEquals } from "../helpers/assert.ts";

const PERM10 = [2, 8, 4, 9, 1, 6, 7, 3, 0, 5];
const ORDER25 = [2, 8, 4, 9, 1, 6, 2, 3, 0, 9, 7, 8, 1, 5, 6, 4, 3, 8, 2, 1, 9, 6, 7, 5, 8];

Deno.test("MT19937 permutation equals numpy's RandomState(0).permutation", () => {
  assertEquals([...new MT19937(0).permutation(10)], PERM10);
});

Deno.test("InfiniteSampler walks the reference's order", () => {
  const s = new InfiniteSampler(10, { seed: 0 });
  assertEquals(Array.from({ length: 25 }, () => s.next()), ORDER25);
});

Deno.test("InfiniteSampler state round trip continues the same order", () => {
  const a = new InfiniteSampler(37, { seed: 3 });
  for (let i = 0; i < 50; i++) a.next();
  const saved = JSON.parse(JSON.stringify(a.getState()));
  const b = new InfiniteSampler(37, { seed: 99 }).setState(saved);
  assertEquals(Array.from({ length: 80 }, () => b.next()), Array.from({ length: 80 }, () => a.next()));
});

Deno.test("InfiniteSampler matches numpy for 1000 samples when numpy is available", async (t) => {
  const py = `
import numpy as np
n=1000; o=np.arange(n); r=np.random.RandomState(7); r.shuffle(o); w=int(np.rint(n*0.5)); out=[]
for idx in range(3000):
    i=idx%n; out.append(int(o[i])); j=(i-r.randint(w))%n; o[i],o[j]=o[j],o[i]
print(" ".join(map(str,out)))`;
  let text: string;
  try {
    const res = await new Deno.Command("python3", { args: ["-c", py], stdout: "piped", stderr: "null" })
      .output();
    if (!res.success) throw new Error("numpy missing");
    text = new TextDecoder().decode(res.stdout).trim();
  } catch {
    await t.step({ name: "python3 with numpy is not installed", ignore: true, fn: () => {} });
    return;
  }
  const s = new InfiniteSampler(1000, { seed: 7 });
  assertEquals(Array.from({ length: 3000 }, () => s.next()).join(" "), text);
});
