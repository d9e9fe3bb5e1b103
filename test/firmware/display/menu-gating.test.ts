/**
 * The display's gating matrix, generated from the menu model's declarations: every `requires` hides its
 * item from a principal without that permission, every `edit` makes its item read-only without it,
 * session items follow the login state, groups vanish with their last visible child, images follow
 * their `requires`, and a leaf that declares nothing (and is not public or a session item) fails here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ALL_PERMISSIONS,
  normalizePermissions,
  PERMISSIONS,
  type PermissionName,
  type PermissionSet,
  permissionBit,
  permissionNames,
} from '../../../firmware/core/permission-table.ts';
import {
  allMenuItems,
  type DisplayPrincipal,
  itemAccess,
  MAIN_MENU,
  MEASUREMENT_IMAGES,
  type MenuItem,
  type MenuItemId,
  visibleImages,
  visibleItems,
} from '../../../firmware/display/menu-model.ts';

/** Leaves anybody at the display may open without a permission. */
const PUBLIC = new Set<MenuItemId>(['info']);

const ITEMS = allMenuItems();
const LEAVES = ITEMS.filter((item) => !item.children);
const GROUPS = ITEMS.filter((item) => item.children);

/**
 * The largest real permission set without `name`: every bit except `name` and the bits that imply it
 * (without security.read there is no security.write either, as normalizePermissions would add it back).
 */
function allExcept(name: PermissionName): PermissionSet {
  const bit = permissionBit(name);
  const implying = PERMISSIONS.filter((p) => (normalizePermissions(p.bit) & bit) !== 0);
  return implying.reduce((set, p) => set & ~p.bit, ALL_PERMISSIONS);
}

/** The set a principal holding just `name` really has. */
function only(name: PermissionName): PermissionSet {
  return normalizePermissions(permissionBit(name));
}

function principal(permissions: PermissionSet, loggedIn: boolean): DisplayPrincipal {
  return { slot: null, permissions, mustChangePassword: false, localOnly: false, loggedIn };
}

/** The login states in which `item` can be shown at all. */
function sessionStates(item: MenuItem): boolean[] {
  if (item.session === 'logged-in') return [true];
  if (item.session === 'logged-out') return [false];
  return [false, true];
}

/** Each single permission alone (normalised), no permission, and every permission; logged in or not. */
const SINGLE_PERMISSION_PRINCIPALS: { readonly label: string; readonly principal: DisplayPrincipal }[] = [
  { label: 'none', set: 0 },
  ...PERMISSIONS.map((p) => ({ label: p.name, set: only(p.name) })),
  { label: 'all', set: ALL_PERMISSIONS },
].flatMap(({ label, set }) =>
  [false, true].map((loggedIn) => ({
    label: `${label}${loggedIn ? ' (logged in)' : ''}`,
    principal: principal(set, loggedIn),
  })),
);

function describePrincipal(who: DisplayPrincipal): string {
  return `[${permissionNames(who.permissions).join(', ')}]${who.loggedIn ? ' logged in' : ''}`;
}

/** The leaves of `items` (at any depth) that declare no permission and are neither public nor session items. */
function undeclaredLeaves(items: readonly MenuItem[], publicIds: ReadonlySet<string>): string[] {
  return allMenuItems(items)
    .filter((item) => !item.children && !item.requires && !item.session && !publicIds.has(item.id))
    .map((item) => item.id);
}

describe('menu declarations', () => {
  it('are the ones the gating below walks (sanity)', () => {
    const byId = new Map(ITEMS.map((item) => [item.id, item]));
    assert.equal(byId.size, ITEMS.length, 'item ids are unique');
    assert.equal(byId.get('reset.meters')?.requires, 'meters.reset');
    assert.equal(byId.get('reset.minmax')?.requires, 'minmax.reset');
    assert.equal(byId.get('security.whitelist')?.requires, 'security.write');
    assert.equal(byId.get('settings.vtRatio')?.requires, 'config.read');
    assert.equal(byId.get('settings.vtRatio')?.edit, 'config.write');
    assert.equal(byId.get('security.login')?.session, 'logged-out');
    assert.equal(byId.get('security.logout')?.session, 'logged-in');
    assert.ok(ITEMS.filter((item) => item.requires).length >= 8);
    assert.ok(ITEMS.filter((item) => item.edit).length >= 6);
    assert.ok(GROUPS.length >= 3);
    assert.equal(MEASUREMENT_IMAGES.length, 5);
  });

  it('name only permissions of the permission table', () => {
    for (const item of ITEMS) {
      for (const name of [item.requires, item.edit]) {
        if (name !== undefined) assert.doesNotThrow(() => permissionBit(name), `${item.id}: ${name}`);
      }
    }
    for (const image of MEASUREMENT_IMAGES) {
      assert.doesNotThrow(() => permissionBit(image.requires), `${image.id}: ${image.requires}`);
    }
  });

  it('give every leaf a permission unless it is a session item or public', () => {
    assert.deepEqual(undeclaredLeaves(MAIN_MENU, PUBLIC), []);
    for (const id of PUBLIC) {
      const item = ITEMS.find((candidate) => candidate.id === id);
      assert.ok(item, `public item ${id} exists`);
      assert.equal(item.requires, undefined, `${id} is public: it declares no permission`);
    }
  });

  it('the declaration rule catches a new leaf without a permission', () => {
    const extended: MenuItem[] = [
      ...MAIN_MENU,
      {
        id: 'more' as MenuItemId,
        label: 'More',
        children: [{ id: 'new' as MenuItemId, label: 'Undeclared' }],
      },
    ];
    assert.deepEqual(undeclaredLeaves(extended, PUBLIC), ['new']);
  });
});

describe('allExcept', () => {
  it('gives real (normalised) sets without the permission', () => {
    for (const p of PERMISSIONS) {
      const set = allExcept(p.name);
      assert.equal(normalizePermissions(set), set, p.name);
      assert.equal(set & p.bit, 0, p.name);
    }
    // The one implication of the table: without security.read, security.write goes too.
    assert.equal(allExcept('security.read') & permissionBit('security.write'), 0);
    assert.notEqual(allExcept('security.write') & permissionBit('security.read'), 0);
  });
});

describe('menu gating', () => {
  it('hides every item with `requires` from a principal holding everything but that permission', () => {
    const gated = ITEMS.filter((item) => item.requires);
    assert.ok(gated.length > 0);
    for (const item of gated) {
      const name = item.requires as PermissionName;
      for (const loggedIn of [false, true]) {
        const who = principal(allExcept(name), loggedIn);
        assert.equal(itemAccess(item, who), 'hidden', `${item.id} for ${describePrincipal(who)}`);
      }
    }
  });

  it('shows every item to a principal with all permissions, in the session state it belongs to', () => {
    for (const item of ITEMS) {
      for (const loggedIn of sessionStates(item)) {
        const who = principal(ALL_PERMISSIONS, loggedIn);
        assert.notEqual(itemAccess(item, who), 'hidden', `${item.id} for ${describePrincipal(who)}`);
      }
    }
  });

  it('shows every leaf with `requires` to a principal holding just that permission', () => {
    for (const item of LEAVES.filter((leaf) => leaf.requires)) {
      for (const loggedIn of sessionStates(item)) {
        const who = principal(only(item.requires as PermissionName), loggedIn);
        assert.notEqual(itemAccess(item, who), 'hidden', `${item.id} for ${describePrincipal(who)}`);
      }
    }
  });

  it('makes every item with `edit` read-only without it and usable with it', () => {
    const editable = ITEMS.filter((item) => item.edit);
    assert.ok(editable.length > 0);
    for (const item of editable) {
      const edit = item.edit as PermissionName;
      const needed = item.requires ? only(item.requires) : 0;
      for (const loggedIn of sessionStates(item)) {
        const readers = [principal(needed, loggedIn), principal(allExcept(edit), loggedIn)];
        for (const who of readers) {
          // A `requires` that implies `edit` would leave no read-only principal to test with.
          if ((who.permissions & permissionBit(edit)) !== 0 || (who.permissions & needed) !== needed)
            continue;
          assert.equal(itemAccess(item, who), 'read-only', `${item.id} for ${describePrincipal(who)}`);
        }
        const editor = principal(needed | only(edit), loggedIn);
        assert.equal(itemAccess(item, editor), 'usable', `${item.id} for ${describePrincipal(editor)}`);
        if (item.requires && (only(edit) & needed) !== needed) {
          const editOnly = principal(only(edit), loggedIn);
          assert.equal(itemAccess(item, editOnly), 'hidden', `${item.id} for ${describePrincipal(editOnly)}`);
        }
      }
    }
  });

  it('never makes an item without `edit` read-only', () => {
    for (const item of ITEMS.filter((candidate) => !candidate.edit)) {
      for (const { principal: who } of SINGLE_PERMISSION_PRINCIPALS) {
        assert.notEqual(itemAccess(item, who), 'read-only', `${item.id} for ${describePrincipal(who)}`);
      }
    }
  });

  it('shows session items only in their login state, whatever the permissions', () => {
    const sessionItems = ITEMS.filter((item) => item.session);
    assert.ok(sessionItems.some((item) => item.session === 'logged-in'));
    assert.ok(sessionItems.some((item) => item.session === 'logged-out'));
    for (const item of sessionItems) {
      const shownWhenLoggedIn = item.session === 'logged-in';
      for (const set of [0, ALL_PERMISSIONS, ...PERMISSIONS.map((p) => only(p.name))]) {
        const wrong = principal(set, !shownWhenLoggedIn);
        assert.equal(itemAccess(item, wrong), 'hidden', `${item.id} for ${describePrincipal(wrong)}`);
        const right = principal(set, shownWhenLoggedIn);
        const allowed = !item.requires || (set & permissionBit(item.requires)) !== 0;
        assert.equal(
          itemAccess(item, right) !== 'hidden',
          allowed,
          `${item.id} for ${describePrincipal(right)}`,
        );
      }
    }
  });

  it('hides a group exactly when every child is hidden (or the group itself is gated)', () => {
    let hiddenSomewhere = 0;
    let shownSomewhere = 0;
    for (const group of GROUPS) {
      const children = group.children ?? [];
      for (const { principal: who } of SINGLE_PERMISSION_PRINCIPALS) {
        const ownGate =
          (group.requires !== undefined && (who.permissions & permissionBit(group.requires)) === 0) ||
          !sessionStates(group).includes(who.loggedIn);
        const allChildrenHidden = children.every((child) => itemAccess(child, who) === 'hidden');
        const hidden = itemAccess(group, who) === 'hidden';
        assert.equal(hidden, ownGate || allChildrenHidden, `${group.id} for ${describePrincipal(who)}`);
        if (hidden) hiddenSomewhere++;
        else shownSomewhere++;
      }
    }
    assert.ok(hiddenSomewhere > 0 && shownSomewhere > 0, 'the matrix has both outcomes');
  });

  it('lists in visibleItems exactly the items itemAccess does not hide, with their access', () => {
    const menus = [MAIN_MENU, ...GROUPS.map((group) => group.children ?? [])];
    for (const { principal: who } of SINGLE_PERMISSION_PRINCIPALS) {
      for (const menu of menus) {
        const expected = menu
          .map((item) => ({ item, access: itemAccess(item, who) }))
          .filter(({ access }) => access !== 'hidden');
        assert.deepEqual(visibleItems(menu, who), expected, describePrincipal(who));
      }
    }
  });
});

describe('image gating', () => {
  it('shows each single-permission principal exactly the images that require that permission', () => {
    let shown = 0;
    for (const { principal: who } of SINGLE_PERMISSION_PRINCIPALS) {
      const expected = MEASUREMENT_IMAGES.filter(
        (image) => (who.permissions & permissionBit(image.requires)) !== 0,
      );
      assert.deepEqual(visibleImages(who), expected, describePrincipal(who));
      shown += expected.length;
    }
    assert.ok(shown > 0);
  });

  it('shows a principal holding one permission the images declared with it (by name)', () => {
    for (const p of PERMISSIONS) {
      const expected = MEASUREMENT_IMAGES.filter((image) =>
        permissionNames(only(p.name)).includes(image.requires),
      ).map((image) => image.id);
      assert.deepEqual(
        visibleImages(principal(only(p.name), false)).map((image) => image.id),
        expected,
        p.name,
      );
    }
    assert.deepEqual(visibleImages(principal(0, false)), []);
    assert.deepEqual(visibleImages(principal(ALL_PERMISSIONS, false)), [...MEASUREMENT_IMAGES]);
  });

  it('hides every image from a principal holding everything but its permission', () => {
    for (const image of MEASUREMENT_IMAGES) {
      const visible = visibleImages(principal(allExcept(image.requires), true));
      assert.ok(!visible.includes(image), `${image.id} without ${image.requires}`);
    }
  });

  it('sanity: measurements.read opens the four live images, meters.read the energy image', () => {
    assert.deepEqual(
      visibleImages(principal(only('measurements.read'), false)).map((image) => image.id),
      ['voltage', 'current', 'power', 'pf-frequency'],
    );
    assert.deepEqual(
      visibleImages(principal(only('meters.read'), false)).map((image) => image.id),
      ['energy'],
    );
  });
});
