import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { pendingStep, useAuth } from '../stores/auth'

declare module 'vue-router' {
  interface RouteMeta {
    title?: string
    /** Permission needed to see the page (the server enforces it again on every request). */
    perm?: string
    public?: boolean
    menu?: string
    icon?: string
    /** Not in the side menu. */
    hidden?: boolean
    /** Mobile pages below a tab: the nav bar shows a back arrow. */
    back?: boolean
  }
}

/** PC pages under the Element Plus layout; their `meta.menu` groups them in the side menu. */
export const pcRoutes: RouteRecordRaw[] = [
  { path: '', name: 'home', component: () => import('../views/pc/Home.vue'), meta: { title: '首页', icon: 'HomeFilled' } },
  { path: 'map', name: 'map', component: () => import('../views/pc/MapView.vue'), meta: { title: '全域智图', perm: 'map:read', icon: 'Location' } },
  // 掌上数窗 (云治慧): topic dashboards, the indicator library and the five abilities.
  { path: 'ind', name: 'ind-topics', component: () => import('../views/pc/ind/Topics.vue'), meta: { title: '专题列表', perm: 'ind:read', menu: '掌上数窗', icon: 'DataBoard' } },
  { path: 'ind/topic/:code', name: 'ind-topic', component: () => import('../views/pc/ind/TopicDashboard.vue'), meta: { title: '专题看板', perm: 'ind:read', hidden: true } },
  { path: 'ind/indicator/:code', name: 'ind-indicator', component: () => import('../views/pc/ind/IndicatorPage.vue'), meta: { title: '指标详情', perm: 'ind:read', hidden: true } },
  { path: 'ind/library', name: 'ind-library', component: () => import('../views/pc/ind/Library.vue'), meta: { title: '指标库', perm: 'ind:read', menu: '掌上数窗', icon: 'Collection' } },
  { path: 'ind/search', name: 'ind-search', component: () => import('../views/pc/ind/Search.vue'), meta: { title: '关联搜索', perm: 'ind:read', menu: '掌上数窗', icon: 'Search' } },
  { path: 'ind/follows', name: 'ind-follows', component: () => import('../views/pc/ind/Follows.vue'), meta: { title: '我的关注', perm: 'ind:read', menu: '掌上数窗', icon: 'Star' } },
  { path: 'ind/design', name: 'ind-design', component: () => import('../views/pc/ind/Design.vue'), meta: { title: '专题设计', perm: 'ind:manage', menu: '掌上数窗', icon: 'Operation' } },
  { path: 'ind/instructions', name: 'ind-instructions', component: () => import('../views/pc/ind/Instructions.vue'), meta: { title: '领导批示', perm: 'ind:read', menu: '掌上数窗', icon: 'EditPen' } },
  // 招商引资: projects through the inv_project workflow (首接 → 在谈 → 备案 → 签约 → 达标达产), 流转 between counties.
  { path: 'inv/projects', name: 'inv-projects', component: () => import('../views/pc/inv/Projects.vue'), meta: { title: '项目在谈', perm: 'inv:read', menu: '招商引资', icon: 'Briefcase' } },
  { path: 'inv/projects/new', name: 'inv-project-new', component: () => import('../views/pc/inv/ProjectEdit.vue'), meta: { title: '新增项目', perm: 'inv:write', hidden: true } },
  { path: 'inv/projects/:id', name: 'inv-project', component: () => import('../views/pc/inv/ProjectDetail.vue'), meta: { title: '项目详情', perm: 'inv:read', hidden: true } },
  { path: 'inv/projects/:id/edit', name: 'inv-project-edit', component: () => import('../views/pc/inv/ProjectEdit.vue'), meta: { title: '编辑项目', perm: 'inv:write', hidden: true } },
  { path: 'inv/review', name: 'inv-review', component: () => import('../views/pc/inv/Review.vue'), meta: { title: '县区在谈项目审核', perm: 'inv:review', menu: '招商引资', icon: 'Stamp' } },
  { path: 'inv/transfers', name: 'inv-transfers', component: () => import('../views/pc/inv/Transfers.vue'), meta: { title: '项目流转管理', perm: 'inv:read', menu: '招商引资', icon: 'Switch' } },
  { path: 'inv/codes', name: 'inv-codes', component: () => import('../views/pc/inv/Codes.vue'), meta: { title: '项目统一代码管理', perm: 'inv:read', menu: '招商引资', icon: 'Postcard' } },
  { path: 'inv/legacy', name: 'inv-legacy', component: () => import('../views/pc/inv/Legacy.vue'), meta: { title: '旧数据信息管理', perm: 'inv:import', menu: '招商引资', icon: 'Upload' } },
  { path: 'inv/stats', name: 'inv-stats', component: () => import('../views/pc/inv/Stats.vue'), meta: { title: '项目统计', perm: 'inv:read', menu: '招商引资', icon: 'PieChart' } },
  // 流程中心: every signed-in user has tasks (no permission); definitions are for administrators.
  { path: 'wf/inbox', name: 'wf-inbox', component: () => import('../views/pc/wf/Inbox.vue'), meta: { title: '我的待办', menu: '流程中心', icon: 'Tickets' } },
  { path: 'wf/definitions', name: 'wf-definitions', component: () => import('../views/pc/wf/Definitions.vue'), meta: { title: '流程定义', perm: 'wf:admin', menu: '流程中心', icon: 'Share' } },
  { path: 'wf/calendar', name: 'wf-calendar', component: () => import('../views/pc/wf/Calendar.vue'), meta: { title: '工作日历', menu: '流程中心', icon: 'Calendar' } },
  { path: 'system/users', name: 'users', component: () => import('../views/pc/system/Users.vue'), meta: { title: '用户管理', perm: 'user:read', menu: '系统管理', icon: 'User' } },
  { path: 'system/departments', name: 'departments', component: () => import('../views/pc/system/Departments.vue'), meta: { title: '部门管理', perm: 'dept:read', menu: '系统管理', icon: 'OfficeBuilding' } },
  { path: 'system/map-layers', name: 'map-layers', component: () => import('../views/pc/system/MapLayers.vue'), meta: { title: '图层管理', perm: 'map:layer', menu: '系统管理', icon: 'Files' } },
  { path: 'system/regions', name: 'regions', component: () => import('../views/pc/system/Regions.vue'), meta: { title: '行政区划', perm: 'region:read', menu: '系统管理', icon: 'MapLocation' } },
  { path: 'security/roles', name: 'roles', component: () => import('../views/pc/security/Roles.vue'), meta: { title: '角色管理', perm: 'role:read', menu: '安全管理', icon: 'Key' } },
  { path: 'security/grants', name: 'grants', component: () => import('../views/pc/security/Grants.vue'), meta: { title: '授权管理', perm: 'grant:write', menu: '安全管理', icon: 'Stamp' } },
  { path: 'security/policy', name: 'security-policy', component: () => import('../views/pc/security/Policy.vue'), meta: { title: '安全策略', perm: 'security:read', menu: '安全管理', icon: 'Lock' } },
  { path: 'security/keys', name: 'security-keys', component: () => import('../views/pc/security/Keys.vue'), meta: { title: '密钥管理', perm: 'security:read', menu: '安全管理', icon: 'Key' } },
  { path: 'security/mfa', name: 'security-mfa', component: () => import('../views/pc/security/Mfa.vue'), meta: { title: '动态口令', perm: 'security:read', menu: '安全管理', icon: 'Iphone' } },
  { path: 'security/integrity', name: 'security-integrity', component: () => import('../views/pc/security/Integrity.vue'), meta: { title: '完整性校验', perm: 'integrity:verify', menu: '安全管理', icon: 'CircleCheck' } },
  { path: 'audit/logs', name: 'audit', component: () => import('../views/pc/audit/AuditLogs.vue'), meta: { title: '审计日志', perm: 'audit:read', menu: '安全审计', icon: 'Document' } },
  { path: 'messages', name: 'messages', component: () => import('../views/pc/Messages.vue'), meta: { title: '消息', hidden: true } },
  { path: 'password', name: 'password', component: () => import('../views/pc/Password.vue'), meta: { title: '修改密码', hidden: true } },
]

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('../views/pc/Login.vue'), meta: { public: true, title: '登录' } },
  // The second factor after the password: bind a soft token or enter its dynamic password.
  { path: '/login/mfa', name: 'mfa', component: () => import('../views/pc/Mfa.vue'), meta: { title: '动态口令验证' } },
  { path: '/api-docs', name: 'api-docs', component: () => import('../views/pc/ApiDocs.vue'), meta: { public: true, title: 'API 文档' } },
  { path: '/', component: () => import('../layouts/PcLayout.vue'), children: pcRoutes },
  // Mobile H5 (Vant). Later issues add their phone pages here.
  { path: '/m/login', name: 'm-login', component: () => import('../views/mobile/Login.vue'), meta: { public: true, title: '登录' } },
  {
    path: '/m',
    component: () => import('../layouts/MobileLayout.vue'),
    children: [
      { path: '', redirect: '/m/me' },
      { path: 'map', name: 'm-map', component: () => import('../views/mobile/MapMobile.vue'), meta: { title: '全域智图', perm: 'map:read' } },
      { path: 'ind', name: 'm-ind', component: () => import('../views/mobile/ind/Topics.vue'), meta: { title: '掌上数窗', perm: 'ind:read' } },
      { path: 'ind/topic/:code', name: 'm-ind-topic', component: () => import('../views/mobile/ind/Dashboard.vue'), meta: { title: '专题看板', perm: 'ind:read', back: true } },
      { path: 'ind/indicator/:code', name: 'm-ind-indicator', component: () => import('../views/mobile/ind/Indicator.vue'), meta: { title: '指标详情', perm: 'ind:read', back: true } },
      { path: 'ind/follows', name: 'm-ind-follows', component: () => import('../views/mobile/ind/Follows.vue'), meta: { title: '我的关注', perm: 'ind:read', back: true } },
      { path: 'ind/instructions', name: 'm-ind-instructions', component: () => import('../views/mobile/ind/Instructions.vue'), meta: { title: '领导批示', perm: 'ind:read', back: true } },
      { path: 'ind/search', name: 'm-ind-search', component: () => import('../views/mobile/ind/Search.vue'), meta: { title: '关联搜索', perm: 'ind:read', back: true } },
      { path: 'wf', name: 'm-wf', component: () => import('../views/mobile/wf/Inbox.vue'), meta: { title: '我的待办' } },
      { path: 'wf/task/:id', name: 'm-wf-task', component: () => import('../views/mobile/wf/Task.vue'), meta: { title: '审批', back: true } },
      { path: 'me', name: 'm-me', component: () => import('../views/mobile/Me.vue'), meta: { title: '我的' } },
      // The soft token works without signing in: its codes are what one signs in with.
      { path: 'token', name: 'm-token', component: () => import('../views/mobile/Token.vue'), meta: { title: '动态口令令牌', public: true } },
    ],
  },
  // Big-screen pages (1920×1080 / 3840×2160) live under /screen, outside both layouts.
  { path: '/screen/ind/:code', name: 'screen-ind', component: () => import('../views/screen/ind/TopicScreen.vue'), meta: { title: '掌上数窗大屏', perm: 'ind:read' } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('../views/NotFound.vue'), meta: { public: true, title: '页面不存在' } },
]

/** Pages of the mobile H5 app (not `/messages`). */
export function isMobilePath(path: string): boolean {
  return path === '/m' || path.startsWith('/m/')
}

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  document.title = `${to.meta.title ?? ''} - 统管`
  if (to.meta.public) return true
  const auth = useAuth()
  const me = await auth.load()
  const mobile = isMobilePath(to.path)
  if (!me) return { path: mobile ? '/m/login' : '/login', query: { redirect: to.fullPath } }
  const step = pendingStep(me)
  if (mobile) {
    // The phone signs in (with the dynamic password when required) on its login page.
    if (step === 'mfa') return { path: '/m/login', query: { redirect: to.fullPath } }
  } else if (step === 'password' && to.name !== 'password') {
    return { name: 'password', query: { forced: '1' } }
  } else if (step === 'mfa' && to.name !== 'mfa') {
    return { name: 'mfa', query: to.name === 'home' || to.name === 'password' ? {} : { redirect: to.fullPath } }
  } else if (!step && to.name === 'mfa') {
    return { path: '/' }
  }
  if (to.meta.perm && !auth.hasPerm(to.meta.perm)) return mobile ? { path: '/m/me' } : { name: 'home' }
  return true
})
