/** The pages, by path. `admin` pages are shown to administrators only. */
import type { Component } from 'svelte';
import AuditPage from './pages/admin/AuditPage.svelte';
import ConnectionsPage from './pages/admin/ConnectionsPage.svelte';
import GroupsPage from './pages/admin/GroupsPage.svelte';
import ModelsPage from './pages/admin/ModelsPage.svelte';
import PipelinesPage from './pages/admin/PipelinesPage.svelte';
import PluginsPage from './pages/admin/PluginsPage.svelte';
import UsersPage from './pages/admin/UsersPage.svelte';
import ChatPage from './pages/ChatPage.svelte';
import RunsPage from './pages/runs/RunsPage.svelte';
import RunView from './pages/runs/RunView.svelte';
import SettingsPage from './pages/settings/SettingsPage.svelte';
import { matchPath, type Params } from './lib/router.svelte';

export interface Route {
  pattern: string;
  component: Component<any>;
  admin?: boolean;
  /** Routes with the same `keep` share one mounted page, which follows its params itself. */
  keep?: string;
  /** The page lays itself out edge to edge, with its own scrolling. */
  full?: boolean;
}

export const routes: Route[] = [
  { pattern: '/chat', component: ChatPage, keep: 'chat', full: true },
  { pattern: '/chat/:id', component: ChatPage, keep: 'chat', full: true },
  { pattern: '/runs', component: RunsPage },
  { pattern: '/runs/:id', component: RunView },
  { pattern: '/settings', component: SettingsPage },
  { pattern: '/settings/:section', component: SettingsPage },
  { pattern: '/admin/users', component: UsersPage, admin: true },
  { pattern: '/admin/groups', component: GroupsPage, admin: true },
  { pattern: '/admin/connections', component: ConnectionsPage, admin: true },
  { pattern: '/admin/models', component: ModelsPage, admin: true },
  { pattern: '/admin/plugins', component: PluginsPage, admin: true },
  { pattern: '/admin/pipelines', component: PipelinesPage, admin: true },
  { pattern: '/admin/audit', component: AuditPage, admin: true },
];

export function resolve(path: string): { route: Route; params: Params } | null {
  for (const route of routes) {
    const params = matchPath(route.pattern, path);
    if (params) return { route, params };
  }
  return null;
}
