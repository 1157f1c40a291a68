import { createApp } from 'vue'
import { createPinia } from 'pinia'
import ElementPlus, { ElMessage } from 'element-plus'
import zhCn from 'element-plus/es/locale/lang/zh-cn'
import * as Icons from '@element-plus/icons-vue'
import 'element-plus/dist/index.css'
import App from './App.vue'
import { router } from './router'
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
        void router.push({ path: here.path.startsWith('/m') ? '/m/login' : '/login', query: { redirect: here.fullPath } })
      }
    } else if (err.code === 'auth.password_change_required' && here.name !== 'password') {
      void router.push({ name: 'password', query: { forced: '1' } })
    }
  },
)

app.mount('#app')
