#include <curl/curl.h>
#include <dlfcn.h>
#include <stddef.h>

// libcurl is opened with dlopen at the first HTTP(S) check, never linked: a daemon with TCP
// checks only does not map it and the ~20 libraries it brings (about 4 MB of RSS). This header
// gives curl's types and one table of the functions the checker calls, filled by
// ipvs_curl_load; nothing here may call a curl_* symbol directly (it would link libcurl).
struct ipvs_curl_api {
    CURLcode (*global_init)(long flags);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_add_handle)(CURLM *multi, CURL *handle);
    CURLMcode (*multi_remove_handle)(CURLM *multi, CURL *handle);
    CURLMcode (*multi_poll)(CURLM *multi, struct curl_waitfd extra[], unsigned int count, int timeout, int *ready);
    CURLMcode (*multi_perform)(CURLM *multi, int *running);
    CURLMsg *(*multi_info_read)(CURLM *multi, int *left);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *handle);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
    void (*slist_free_all)(struct curl_slist *list);
    // Variadic: called only through the typed wrappers below (Swift cannot call them).
    CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
    CURLcode (*easy_getinfo)(CURL *handle, CURLINFO info, ...);
};

// Fills `api` from libcurl.so.4: 0, or -1 with dlerror()'s text in `error` (truncated).
static inline int ipvs_curl_load(struct ipvs_curl_api *api, char *error, size_t size) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    const char *text = NULL;
    if (library) {
#define IPVS_CURL_SYMBOL(field, name) \
        if (!text && !(*(void **)&api->field = dlsym(library, name))) text = dlerror();
        IPVS_CURL_SYMBOL(global_init, "curl_global_init")
        IPVS_CURL_SYMBOL(multi_init, "curl_multi_init")
        IPVS_CURL_SYMBOL(multi_add_handle, "curl_multi_add_handle")
        IPVS_CURL_SYMBOL(multi_remove_handle, "curl_multi_remove_handle")
        IPVS_CURL_SYMBOL(multi_poll, "curl_multi_poll")
        IPVS_CURL_SYMBOL(multi_perform, "curl_multi_perform")
        IPVS_CURL_SYMBOL(multi_info_read, "curl_multi_info_read")
        IPVS_CURL_SYMBOL(easy_init, "curl_easy_init")
        IPVS_CURL_SYMBOL(easy_cleanup, "curl_easy_cleanup")
        IPVS_CURL_SYMBOL(easy_strerror, "curl_easy_strerror")
        IPVS_CURL_SYMBOL(slist_append, "curl_slist_append")
        IPVS_CURL_SYMBOL(slist_free_all, "curl_slist_free_all")
        IPVS_CURL_SYMBOL(easy_setopt, "curl_easy_setopt")
        IPVS_CURL_SYMBOL(easy_getinfo, "curl_easy_getinfo")
#undef IPVS_CURL_SYMBOL
        if (!text) return 0;
    } else {
        text = dlerror();
    }
    if (size > 0) {
        size_t index = 0;
        for (; text && text[index] && index + 1 < size; index++) error[index] = text[index];
        error[index] = 0;
    }
    return -1;
}

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
// wrapper per argument type the checker passes.
static inline CURLcode ipvs_curl_set_long(const struct ipvs_curl_api *api, CURL *handle, CURLoption option, long value) {
    return api->easy_setopt(handle, option, value);
}
static inline CURLcode ipvs_curl_set_pointer(const struct ipvs_curl_api *api, CURL *handle, CURLoption option, const void *value) {
    return api->easy_setopt(handle, option, value);
}
static inline CURLcode ipvs_curl_set_write_function(
    const struct ipvs_curl_api *api, CURL *handle, size_t (*function)(char *, size_t, size_t, void *)) {
    return api->easy_setopt(handle, CURLOPT_WRITEFUNCTION, function);
}
static inline CURLcode ipvs_curl_set_string(const struct ipvs_curl_api *api, CURL *handle, CURLoption option, const char *value) {
    return api->easy_setopt(handle, option, value);
}
static inline long ipvs_curl_response_code(const struct ipvs_curl_api *api, CURL *handle) {
    long code = 0;
    api->easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
static inline void *ipvs_curl_private(const struct ipvs_curl_api *api, CURL *handle) {
    char *pointer = NULL;
    api->easy_getinfo(handle, CURLINFO_PRIVATE, &pointer);
    return pointer;
}
static inline long ipvs_curl_os_errno(const struct ipvs_curl_api *api, CURL *handle) {
    long value = 0;
    api->easy_getinfo(handle, CURLINFO_OS_ERRNO, &value);
    return value;
}
