// The generated distribution report (生成统计报告) shared by the PC dialog and the phone popup:
// load() fetches it for the given indicator, region and period (a later call wins over an earlier
// one still in flight); print() audits the PDF export (POST /exports/audit, kind pdf) and prints
// only the report with the watermark (print.css).
import { ref, shallowRef } from 'vue'
import { ApiError } from '../../api/http'
import { indApi, targets, type DistributionReport } from '../../api/ind'
import { exportPdf } from './exports'
import './print.css'

export function useReport(props: { code: string; region?: string; period?: string }) {
  const report = shallowRef<DistributionReport | null>(null)
  const loading = ref(false)
  const failed = ref('')
  let gen = 0

  async function load() {
    const my = ++gen
    report.value = null
    failed.value = ''
    if (!props.code) return
    loading.value = true
    try {
      const r = await indApi.report(props.code, { region: props.region || undefined, period: props.period || undefined })
      if (my === gen) report.value = r
    } catch (e) {
      if (my === gen) failed.value = e instanceof ApiError ? e.message : '报告生成失败'
    } finally {
      if (my === gen) loading.value = false
    }
  }

  async function print() {
    const r = report.value
    if (r) await exportPdf(targets.indicator(r.indicator.code), r.title, 'report').catch(() => undefined)
  }

  return { report, loading, failed, load, print }
}
