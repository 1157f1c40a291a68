import { createApp } from 'vue'
import { createPinia } from 'pinia'
import ElementPlus, { ElMessage } from 'element-plus'
import zhCn from 'element-plus/es/locale/lang/zh-cn'
import * as Icons from '@element-plus/icons-vue'
import 'element-plus/dist/index.css'
import App from './App.vue'
import { isMobilePath, router } from './router'
import { configureHttp } from './api/http'
import { vAccess } from './directives/access'
import { useAuth } from './stores/auth'
import './style.css'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia).use(router).use(ElementPlus, { locale: zhCn })
for (const [name, comp] of Object.entries(Icons)) app.component(name, comp)
app.directive('access', vAccess)

configureHttp(
  (message) => {
    ElMessage.error({ message, grouping: true })
  },
  (err) => {
    const auth = useAuth(pinia)
    const here = router.currentRoute.value
    if (err.status === 401) {
      auth.$patch({ me: null, loaded: true })
      if (!here.meta.public) {
        void router.push({ path: isMobilePath(here.path) ? '/m/login' : '/login', query: { redirect: here.fullPath } })
      }
    } else if ((err.code === 'auth.password_change_required' || err.code === 'auth.password_expired') && here.name !== 'password') {
      void auth.load(true).then(() => router.push({ name: 'password', query: { forced: '1' } }))
    } else if (err.code === 'auth.mfa_required' && here.name !== 'mfa') {
      // The session is below the assurance level the account needs (e.g. after a restart of the
      // policy): refresh the user so the guard routes to the dynamic-password page.
      void auth.load(true).then(() => {
        if (isMobilePath(here.path)) return router.push({ path: '/m/login', query: { redirect: here.fullPath } })
        return router.push({ name: 'mfa', query: { redirect: here.fullPath } })
      })
    }
  },
)

app.mount('#app')
