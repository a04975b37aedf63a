#include "ccurl.h"

CURLcode bh_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode bh_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode bh_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode bh_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode bh_curl_set_callbacks(CURL *handle, bh_curl_data_callback header, bh_curl_data_callback body,
                               bh_curl_progress_callback progress, void *context) {
    CURLcode code;
    if ((code = curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, header)) != CURLE_OK) return code;
    if ((code = curl_easy_setopt(handle, CURLOPT_HEADERDATA, context)) != CURLE_OK) return code;
    if ((code = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, body)) != CURLE_OK) return code;
    if ((code = curl_easy_setopt(handle, CURLOPT_WRITEDATA, context)) != CURLE_OK) return code;
    if ((code = curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, progress)) != CURLE_OK) return code;
    if ((code = curl_easy_setopt(handle, CURLOPT_XFERINFODATA, context)) != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}

CURLcode bh_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

CURLcode bh_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}
