// The paths of the 招商引资 PC pages (the router maps them; kept in one place so links agree).
export const invPaths = {
  projects: '/inv/projects',
  create: '/inv/projects/new',
  detail: (id: number) => `/inv/projects/${id}`,
  edit: (id: number) => `/inv/projects/${id}/edit`,
  review: '/inv/review',
  transfers: '/inv/transfers',
  codes: '/inv/codes',
  legacy: '/inv/legacy',
  stats: '/inv/stats',
}
