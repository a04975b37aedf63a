#ifndef BIRDER_CCURL_H
#define BIRDER_CCURL_H

#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
// wrapper per argument type the downloader passes.
CURLcode bh_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode bh_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode bh_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode bh_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);

typedef size_t (*bh_curl_data_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*bh_curl_progress_callback)(void *context, curl_off_t download_total, curl_off_t downloaded,
                                         curl_off_t upload_total, curl_off_t uploaded);

// Sets the header, body and progress callbacks, all given `context`.
CURLcode bh_curl_set_callbacks(CURL *handle, bh_curl_data_callback header, bh_curl_data_callback body,
                               bh_curl_progress_callback progress, void *context);

CURLcode bh_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode bh_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value);

#endif
