// Writes JPEG variants PIL cannot save (4:4:0, 4:1:1, RGB-coded, arithmetic coding, restart
// markers, YCCK, CMYK without an Adobe marker, a progressive file with > 1000 scans), for the
// vision fixtures. Built and run by make_vision_fixtures.py:
//   cc -O1 -o jpeg_variants jpeg_variants.c -ljpeg
//   jpeg_variants IN.raw OUT.jpg WIDTH HEIGHT IN_SPACE JPEG_SPACE H0 V0 QUALITY PROGRESSIVE ARITH RESTART ADOBE
// IN_SPACE: rgb | gray | cmyk (IN.raw holds width*height*components bytes)
// JPEG_SPACE: ycc | rgb | gray | cmyk | ycck
// PROGRESSIVE: 0 sequential, 1 libjpeg's standard progression, 2 a valid script of ~1100 scans
// ADOBE: -1 library default, 0 suppress the Adobe marker, 1 force it
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

int main(int argc, char **argv) {
    if (argc != 14) {
        fprintf(stderr, "usage: see the header comment\n");
        return 2;
    }
    const char *in_path = argv[1], *out_path = argv[2];
    int width = atoi(argv[3]), height = atoi(argv[4]);
    const char *in_space = argv[5], *jpeg_space = argv[6];
    int h0 = atoi(argv[7]), v0 = atoi(argv[8]), quality = atoi(argv[9]);
    int progressive = atoi(argv[10]), arith = atoi(argv[11]), restart = atoi(argv[12]), adobe = atoi(argv[13]);

    int components = strcmp(in_space, "rgb") == 0 ? 3 : strcmp(in_space, "gray") == 0 ? 1 : 4;
    size_t bytes = (size_t)width * height * components;
    unsigned char *pixels = malloc(bytes);
    FILE *in = fopen(in_path, "rb");
    if (!in || fread(pixels, 1, bytes, in) != bytes) {
        fprintf(stderr, "cannot read %s\n", in_path);
        return 1;
    }
    fclose(in);

    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    FILE *out = fopen(out_path, "wb");
    if (!out) {
        return 1;
    }
    jpeg_stdio_dest(&c, out);
    c.image_width = width;
    c.image_height = height;
    c.input_components = components;
    c.in_color_space = components == 3 ? JCS_RGB : components == 1 ? JCS_GRAYSCALE : JCS_CMYK;
    jpeg_set_defaults(&c);
    if (strcmp(jpeg_space, "rgb") == 0) {
        jpeg_set_colorspace(&c, JCS_RGB);
    } else if (strcmp(jpeg_space, "gray") == 0) {
        jpeg_set_colorspace(&c, JCS_GRAYSCALE);
    } else if (strcmp(jpeg_space, "cmyk") == 0) {
        jpeg_set_colorspace(&c, JCS_CMYK);
    } else if (strcmp(jpeg_space, "ycck") == 0) {
        jpeg_set_colorspace(&c, JCS_YCCK);
    }
    jpeg_set_quality(&c, quality, TRUE);
    c.comp_info[0].h_samp_factor = h0;
    c.comp_info[0].v_samp_factor = v0;
    if (c.num_components == 4) {
        c.comp_info[3].h_samp_factor = h0;
        c.comp_info[3].v_samp_factor = v0;
    }
    if (arith) {
        c.arith_code = TRUE;
    }
    if (restart) {
        c.restart_in_rows = restart;
    }
    if (adobe >= 0) {
        c.write_Adobe_marker = adobe ? TRUE : FALSE;
    }
    static jpeg_scan_info scans[4096];
    if (progressive == 1) {
        jpeg_simple_progression(&c);
    } else if (progressive == 2) {
        // DC for all components, then every AC coefficient alone, refined one bit at a time.
        int n = 0;
        scans[n].comps_in_scan = c.num_components;
        for (int i = 0; i < c.num_components; i++) {
            scans[n].component_index[i] = i;
        }
        scans[n].Ss = 0, scans[n].Se = 0, scans[n].Ah = 0, scans[n].Al = 0;
        n++;
        for (int comp = 0; comp < c.num_components; comp++) {
            for (int k = 1; k <= 63; k++) {
                for (int al = 5; al >= 0; al--) {
                    scans[n].comps_in_scan = 1;
                    scans[n].component_index[0] = comp;
                    scans[n].Ss = k, scans[n].Se = k;
                    scans[n].Ah = al == 5 ? 0 : al + 1;
                    scans[n].Al = al;
                    n++;
                }
            }
        }
        c.scan_info = scans;
        c.num_scans = n;
    }
    jpeg_start_compress(&c, TRUE);
    size_t stride = (size_t)width * components;
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = pixels + c.next_scanline * stride;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(out);
    free(pixels);
    return 0;
}
