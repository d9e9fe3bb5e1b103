/**
 * The comm-lost / comm-restored budget: a burst logged one by one, then one per period; what was only
 * counted is named by the next logged event; the state a flapping line settles in is logged once the
 * budget allows, and only once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommEventLimiter, type CommState } from '../../../firmware/meter/comm-event-limiter.ts';

const POLICY = { burst: 3, everyMs: 60_000 };

describe('CommEventLimiter', () => {
  it('logs a burst, then counts; a flapping hour costs the burst plus one per period', () => {
    const limiter = new CommEventLimiter(POLICY);
    let logged = 0;
    const states: CommState[] = ['lost', 'restored'];
    // A transition every second for an hour: 3600 transitions.
    for (let t = 0; t < 3_600_000; t += 1000) {
      if (limiter.transition(states[(t / 1000) % 2] as CommState, t)) logged++;
      if (limiter.settle(t)) logged++;
    }
    assert.ok(logged <= POLICY.burst + 60 + 1, `${logged} events for 3600 transitions`);
    assert.ok(logged >= POLICY.burst, 'the burst is logged');
  });

  it('names the transitions it only counted in the next event it logs', () => {
    const limiter = new CommEventLimiter(POLICY);
    assert.deepEqual(limiter.transition('lost', 0), { state: 'lost', notLogged: 0 });
    assert.deepEqual(limiter.transition('restored', 1), { state: 'restored', notLogged: 0 });
    assert.deepEqual(limiter.transition('lost', 2), { state: 'lost', notLogged: 0 });
    assert.equal(limiter.transition('restored', 3), null);
    assert.equal(limiter.transition('lost', 4), null);
    assert.equal(limiter.transition('restored', 5), null);
    assert.deepEqual(limiter.transition('lost', 60_010), { state: 'lost', notLogged: 3 });
  });

  it('logs the state the line settled in once the budget allows, and only once', () => {
    const limiter = new CommEventLimiter(POLICY);
    for (let t = 0; t < 4; t++) limiter.transition(t % 2 === 0 ? 'lost' : 'restored', t);
    // Settled in `restored` (the 4th transition was only counted).
    assert.equal(limiter.settle(1000), null, 'no budget yet');
    assert.deepEqual(limiter.settle(61_000), { state: 'restored', notLogged: 1 });
    assert.equal(limiter.settle(200_000), null, 'already logged');
  });
});
