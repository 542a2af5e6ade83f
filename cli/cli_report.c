/* cli_report.c — `ctrain report DIR... -o OUT.html`: one self-contained HTML
 * file (opens offline) with, per run, the config, interactive charts (uPlot,
 * MIT, from npm: its JS and CSS are copied into the file; drag to zoom,
 * hover for values), the checkpoint table, the events (start, resume,
 * restart, ...) and the machine and BLAS kernel.
 *
 * uPlot is read from $CTRAIN_UPLOT_DIR, else <directory of ctrain>/uplot/
 * package/dist (`make uplot` puts it in build/uplot).  The page's script
 * writes, once the charts are drawn, {"chart": {"series": points}} into
 * <pre id="ctrain-drawn"> so a headless browser can check them. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../ckpt/discover.h"
#include "../ckpt/h5c.h"
#include "../util/atomic.h"
#include "../util/log.h"
#include "../ckpt/fields.h"
#include "cli.h"
#include "events.h"

static char *slurp(const char *path, size_t max, ct_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		ct_errno(e, CT_ENOTFOUND, errno, "%s: cannot open", path);
		return NULL;
	}
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max, f) : 0;
	int bad = !buf || ferror(f);
	(void)fclose(f); /* read only */
	if (bad) {
		free(buf);
		ct_errf(e, CT_EIO, "%s: read failed", path);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int uplot_dir(char *out, size_t cap) /* cap >= 4200 */
{
	const char *env = getenv("CTRAIN_UPLOT_DIR");
	if (env && env[0]) {
		snprintf(out, cap, "%s", env);
		return 0;
	}
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, cap, "%.4000s/uplot/package/dist", exe);
	return 0;
}

static int jset(json_t *o, const char *k, json_t *v) { return json_object_set_new(o, k, v); }

/* metrics.csv as columns: {"step": [...], "loss": [...], ...}; empty cells null */
static json_t *metrics_json(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/metrics.csv", dir);
	json_t *cols = json_object();
	FILE *f = fopen(path, "r");
	if (!f || !cols) {
		if (f)
			(void)fclose(f); /* read only */
		return cols;
	}
	char head[1024], line[1024];
	char *h[32];
	int nh = 0;
	if (fgets(head, sizeof head, f)) {
		head[strcspn(head, "\r\n")] = '\0';
		for (char *p = head; nh < 32;) {
			h[nh++] = p;
			p = strchr(p, ',');
			if (!p)
				break;
			*p++ = '\0';
		}
	}
	json_t *arr[32];
	for (int i = 0; i < nh; i++) {
		arr[i] = json_array();
		(void)jset(cols, h[i], arr[i]);
	}
	while (nh > 0 && fgets(line, sizeof line, f)) {
		if (!strchr(line, '\n'))
			break;
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line;
		for (int i = 0; i < nh; i++) {
			char *c = p;
			p = p ? strchr(p, ',') : NULL;
			if (p)
				*p++ = '\0';
			char *end = NULL;
			double v = c && *c ? strtod(c, &end) : 0;
			(void)json_array_append_new(arr[i], c && *c && end && !*end ? json_real(v)
										    : json_null());
		}
	}
	(void)fclose(f); /* read only */
	return cols;
}

static json_t *checkpoints_json(const char *dir, char *core, size_t cap)
{
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", dir);
	json_t *a = json_array();
	ct_ckpt_entry *v = NULL;
	size_t n = 0;
	if (!a || ct_ckpt_list(ck, &v, &n, NULL) < 0)
		return a;
	for (size_t i = 0; i < n; i++) {
		int ok = ct_ckpt_check(&v[i]);
		struct stat sb;
		int have = stat(v[i].path, &sb) == 0;
		const char *b = strrchr(v[i].path, '/');
		json_t *o =
			json_pack("{s:s,s:I,s:I,s:b,s:s?,s:I}", "file", b ? b + 1 : v[i].path,
				  "step", (json_int_t)v[i].step, "bytes",
				  (json_int_t)(have ? sb.st_size : 0), "valid", ok == 1, "reason",
				  v[i].reason, "mtime", (json_int_t)(have ? sb.st_mtime : 0));
		(void)json_array_append_new(a, o);
		if (ok == 1 && !core[0]) { /* the kernel of the newest valid one */
			ct_h5c_reader *r = NULL;
			char *s = NULL;
			ct_h5c_field f = {"/meta@blas_core", CT_H5C_STR, 0, {0}, &s};
			if (ct_h5c_open(v[i].path, &r, NULL) == 0 && ct_h5c_read(r, &f, NULL) == 0)
				snprintf(core, cap, "%s", s);
			free(s);
			ct_h5c_close(r);
		}
	}
	ct_ckpt_list_free(v, n);
	return a;
}

static json_t *events_json(const char *dir)
{
	json_t *a = json_array();
	run_event *v = NULL;
	size_t n = 0;
	if (a && events_read(dir, &v, &n, NULL) == 0)
		for (size_t i = 0; i < n; i++)
			(void)json_array_append_new(
				a,
				json_pack("{s:f,s:s,s:I,s:I,s:s}", "time", v[i].time, "event",
					  v[i].event, "step", (json_int_t)v[i].step, "total_steps",
					  (json_int_t)v[i].total_steps, "detail", v[i].detail));
	free(v);
	return a;
}

static json_t *machine_json(void)
{
	struct utsname u;
	char cpu[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
				char *c = strchr(line, ':') + 1;
				c += strspn(c, " \t");
				c[strcspn(c, "\n")] = '\0';
				snprintf(cpu, sizeof cpu, "%s", c);
				break;
			}
		(void)fclose(f); /* read only */
	}
	int have_u = uname(&u) == 0;
	return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "host", have_u ? u.nodename : "?", "system",
			 have_u ? u.sysname : "?", "release", have_u ? u.release : "?", "cpus",
			 (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "cpu", cpu, "blas_core_here",
			 ct_blas_core_name());
}

static const char PAGE_HEAD[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<title>ctrain report</title>\n<style>\n";
static const char PAGE_STYLE[] =
	"body{font:14px sans-serif;margin:20px;color:#222}h1{font-size:20px}h2{font-size:17px;"
	"border-bottom:1px solid #ccc}table{border-collapse:collapse;margin:6px 0}td,th{border:"
	"1px solid #ddd;padding:2px 8px;text-align:right}th{background:#f4f4f4}pre.cfg{background:"
	"#f8f8f8;padding:8px;max-height:300px;overflow:auto}.bad{color:#b00}.charts{display:flex;"
	"flex-wrap:wrap;gap:12px}#ctrain-drawn{color:#888;font-size:11px}\n";
/* The page: builds, per chart, one x axis (the union of every run's steps)
 * and one series per run (nulls where a run has no value), then records what
 * each series holds once uPlot has drawn it. */
static const char PAGE_SCRIPT[] =
	"(function(){\n"
	"const R=CTRAIN_REPORT,C=['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#8c564b'];\n"
	"const el=(t,a,p)=>{const e=document.createElement(t);if(a)e.textContent=a;"
	"(p||document.body).appendChild(e);return e;};\n"
	"el('h1','ctrain report');\n"
	"const m=R.machine;el('p','machine: '+m.host+' \\u2014 '+m.cpu+', '+m.cpus+' CPUs, '+"
	"m.system+' '+m.release+'; OpenBLAS kernel here: '+m.blas_core_here+'; generated '+R.generated);\n"
	"const charts=[['training loss','loss'],['validation loss','val_loss'],"
	"['validation accuracy','val_accuracy'],['learning rate','lr'],['gradient norm','grad_norm']];\n"
	"const drawn={};const box=el('div');box.className='charts';\n"
	"let out=null;const show=()=>{if(out)out.textContent=JSON.stringify(drawn);};\n"
	"for(const [title,col] of charts){\n"
	" const xs=new Set();R.runs.forEach(r=>(r.metrics.step||[]).forEach((s,i)=>{if(r.metrics[col]&&r.metrics[col][i]!==null)xs.add(s);}));\n"
	" const x=[...xs].sort((a,b)=>a-b);if(!x.length)continue;const data=[x],series=[{label:'step'}];\n"
	" R.runs.forEach((r,k)=>{const mp=new Map();(r.metrics.step||[]).forEach((s,i)=>{const v=r.metrics[col]?r.metrics[col][i]:null;if(v!==null)mp.set(s,v);});\n"
	"  data.push(x.map(s=>mp.has(s)?mp.get(s):null));series.push({label:r.name,stroke:C[k%C.length],width:1.5,spanGaps:true,points:{show:col.startsWith('val')}});});\n"
	" const d=el('div',null,box);\n"
	" const u=new uPlot({title:title,width:560,height:300,series:series,scales:{x:{time:false}},"
	"cursor:{drag:{x:true,y:false}},hooks:{draw:[u=>{const cv=u.ctx.canvas;let ink=0;"
	"const px=u.ctx.getImageData(0,0,cv.width,cv.height).data;for(let i=3;i<px.length;i+=4)if(px[i])ink++;"
	"drawn[col]._ink=ink;show();}]}},data,d);\n"
	" drawn[col]=Object.assign(drawn[col]||{},{});series.slice(1).forEach((s,i)=>{drawn[col][s.label]=u.data[i+1].filter(v=>v!==null).length;});\n"
	"}\n"
	"for(const r of R.runs){\n"
	" el('h2','run '+r.name+' ('+r.dir+')');\n"
	" el('p','OpenBLAS kernel of its newest checkpoint: '+(r.blas_core||'unknown'));\n"
	" el('h3','events');const te=el('table');el('tr',null,te).innerHTML='<th>time (UTC)</th><th>event</th><th>step</th><th>detail</th>';\n"
	" r.events.forEach(e=>{const tr=el('tr',null,te);[new Date(e.time*1000).toISOString(),e.event,e.step,e.detail].forEach(v=>el('td',String(v),tr));});\n"
	" el('h3','checkpoints');const tc=el('table');el('tr',null,tc).innerHTML='<th>file</th><th>step</th><th>bytes</th><th>written (UTC)</th><th>valid</th>';\n"
	" r.checkpoints.forEach(c=>{const tr=el('tr',null,tc);[c.file,c.step,c.bytes,new Date(c.mtime*1000).toISOString(),c.valid?'valid':'INVALID: '+c.reason].forEach(v=>el('td',String(v),tr));if(!c.valid)tr.className='bad';});\n"
	" el('h3','config.ini');const pre=el('pre',r.config);pre.className='cfg';\n"
	"}\n"
	"out=el('pre');out.id='ctrain-drawn';show();\n"
	"})();\n";

/* Writes s with "</" broken, so no text ends the <script> early. */
static void put_script_safe(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (s[0] == '<' && s[1] == '/') {
			(void)fputs("<\\/", f);
			s++;
		} else
			(void)fputc(*s, f);
	}
}

static int write_page(const char *out, const char *css, const char *js, const char *data, ct_err *e)
{
	char tmp[4400];
	const char *slash = strrchr(out, '/');
	snprintf(tmp, sizeof tmp, "%.*s%s%s-%ld-0", slash ? (int)(slash - out + 1) : 0, out,
		 CT_ATOMIC_TMP_PREFIX, slash ? slash + 1 : out, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return ct_errno(e, CT_EIO, errno, "%s: cannot create", tmp);
	(void)fputs(PAGE_HEAD, f);
	(void)fputs(css, f);
	(void)fputs(PAGE_STYLE, f);
	(void)fputs("</style>\n<script>\n", f);
	put_script_safe(f, js);
	(void)fputs("\n</script>\n</head><body>\n<script>\nconst CTRAIN_REPORT = ", f);
	put_script_safe(f, data);
	(void)fputs(";\n", f);
	(void)fputs(PAGE_SCRIPT, f);
	(void)fputs("</script>\n</body></html>\n", f);
	int bad = ferror(f) != 0;
	bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
	int err = errno;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, out) != 0) {
		int rerr = bad ? err : errno;
		(void)unlink(tmp); /* nothing worth keeping */
		return ct_errno(e, CT_EIO, rerr, "%s: cannot write", out);
	}
	return 0;
}

int cli_report(int argc, char **argv, ct_err *e)
{
	const char *out = NULL;
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (argv[i][0] == '-')
			return ct_errf(e, CT_EUSAGE,
				       "unknown argument '%s' (see ctrain report --help)", argv[i]);
		else
			n++;
	}
	if (!out || n == 0)
		return ct_errf(e, CT_EUSAGE, "usage: ctrain report DIR... -o OUT.html");
	char ud[4200], p[4400];
	if (uplot_dir(ud, sizeof ud) < 0)
		return ct_errf(e, CT_ENOTFOUND, "cannot find uPlot (set CTRAIN_UPLOT_DIR)");
	snprintf(p, sizeof p, "%s/uPlot.iife.min.js", ud);
	char *js = slurp(p, 4 << 20, e);
	if (!js)
		return ct_err_prefix(e, "uPlot (make uplot, or set CTRAIN_UPLOT_DIR)");
	snprintf(p, sizeof p, "%s/uPlot.min.css", ud);
	char *css = slurp(p, 1 << 20, e);
	if (!css) {
		free(js);
		return ct_err_prefix(e, "uPlot (make uplot, or set CTRAIN_UPLOT_DIR)");
	}
	json_t *runs = json_array();
	int rc = runs ? 0 : ct_errf(e, CT_ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0) {
			i++;
			continue;
		}
		const char *dir = argv[i];
		snprintf(p, sizeof p, "%s/config.ini", dir);
		char *cfg = slurp(p, 1 << 20, e);
		if (!cfg) {
			rc = ct_err_prefix(e, "%s is not a run directory", dir);
			break;
		}
		const char *b = strrchr(dir, '/');
		json_t *r = json_object();
		if (r) {
			char core[64] = "";
			(void)jset(r, "dir", json_string(dir));
			(void)jset(r, "name", json_string(b && b[1] ? b + 1 : dir));
			(void)jset(r, "config", json_string(cfg));
			(void)jset(r, "metrics", metrics_json(dir));
			(void)jset(r, "checkpoints", checkpoints_json(dir, core, sizeof core));
			(void)jset(r, "events", events_json(dir));
			(void)jset(r, "blas_core", json_string(core));
		}
		free(cfg);
		if (!r || json_array_append_new(runs, r) != 0)
			rc = ct_errf(e, CT_ENOMEM, "out of memory");
	}
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tm));
	json_t *top = rc == 0 ? json_pack("{s:o,s:o,s:s}", "runs", runs, "machine", machine_json(),
					  "generated", when)
			      : NULL;
	if (rc == 0)
		runs = NULL;
	char *data = top ? json_dumps(top, JSON_COMPACT) : NULL;
	if (rc == 0 && !data)
		rc = ct_errf(e, CT_ENOMEM, "out of memory (report data)");
	if (rc == 0)
		rc = write_page(out, css, js, data, e);
	if (rc == 0)
		ct_log_info("wrote %s (%d run%s)", out, n, n == 1 ? "" : "s");
	free(data);
	json_decref(top);
	json_decref(runs);
	free(js);
	free(css);
	return rc;
}
